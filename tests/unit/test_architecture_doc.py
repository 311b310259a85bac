"""ARCHITECTURE.md is true to the code: every path, module and deployment it names exists, its
table of components names every deployment of deployments/serve_config.yaml and every
component of the design, and its URLs are the API's."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
import yaml

from rivergen.acl import ROUTE_ACCESS
from tests.conftest import REPO_ROOT

DOC = (REPO_ROOT / "ARCHITECTURE.md").read_text()
SERVE_CONFIG = yaml.safe_load((REPO_ROOT / "deployments" / "serve_config.yaml").read_text())
TOP = ("rivergen/", "compute/", "deployments/", "web/", "tests/", "scripts/", "docs/")
SEED_COMPONENTS = (
    "Web client",
    "Gateway",
    "Storage Orchestration",
    "Socket.io cluster",
    "Backend Core: SAM",
    "Backend Core: Billing",
    "Prompt Studio (PSA)",
    "Model Studio (MSA)",
    "Decision Intelligence (DIA)",
    "Governance agent (GA)",
    "Operations agent (OSA)",
    "Planning",
    "Schema & Metadata",
    "Governance",
    "Machine Learning",
    "Data Quality & Profiling",
    "Language & Explanation",
    "Execution Support",
    "Model Monitoring",
    "Internal Compute",
    "Sparse Native",
    "Connector",
    "Data Staging",
    "Notification Service",
)


def quoted() -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", DOC))


def deployment_names() -> set[str]:
    return {d["name"] for a in SERVE_CONFIG["applications"] for d in a["deployments"]}


def application_names() -> set[str]:
    return {a["name"] for a in SERVE_CONFIG["applications"]}


def component_table() -> list[dict[str, Any]]:
    """The rows of the table of components, each cell's backticked names listed."""
    start = DOC.index("| component | folder | deployment | route module | URL |")
    lines = DOC[start:].split("\n\n")[0].splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        row: dict[str, Any] = {"component": cells[0]}
        for name, cell in zip(header[1:], cells[1:], strict=True):
            row[name] = re.findall(r"`([^`]+)`", cell)
        rows.append(row)
    return rows


def resolves(dotted: str) -> bool:
    """A module, or an attribute of one (a class, a function)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def test_the_readme_points_at_it() -> None:
    assert "(ARCHITECTURE.md)" in (REPO_ROOT / "README.md").read_text()


def test_every_path_named_exists() -> None:
    paths = {word.rstrip("/") for word in quoted() if word.startswith(TOP) and " " not in word}
    assert "rivergen/agents/operations" in paths
    missing = sorted(p for p in paths if not (REPO_ROOT / p).exists())
    assert missing == []


def test_every_module_and_name_named_resolves() -> None:
    dotted = {w for w in quoted() if re.fullmatch(r"(rivergen|compute|deployments)(\.\w+)+", w)}
    assert "rivergen.events.loop.ConsumerLoop" in dotted
    assert sorted(d for d in dotted if not resolves(d)) == []


def test_every_deployment_named_is_in_the_serve_config() -> None:
    """Every kebab-case name the document quotes is a deployment or an application, and every
    deployment of the Serve config is named."""
    known = deployment_names() | application_names()
    kebab = {w for w in quoted() if re.fullmatch(r"[a-z]+(-[a-z]+)+", w)}
    assert sorted(kebab - known) == []
    named = {w for w in quoted() if w in deployment_names()}
    assert sorted(deployment_names() - named) == []


def test_the_table_names_every_component_and_deployment() -> None:
    rows = component_table()
    components = [row["component"] for row in rows]
    assert sorted(set(SEED_COMPONENTS) - {c.split(" and ")[0] for c in components}) == []
    in_table = {name for row in rows for name in row["deployment"]}
    assert sorted(in_table - deployment_names()) == []
    # Every deployment but the event workers' ingress is some component's.
    assert sorted(deployment_names() - in_table) == ["event-workers"]


@pytest.mark.parametrize("row", component_table(), ids=lambda row: row["component"])
def test_each_url_of_the_table_is_served(row: dict[str, Any]) -> None:
    from deployments.sockets import ROUTE_PREFIX as SOCKETS

    routes = {path for _, path in ROUTE_ACCESS}
    for url in row["URL"]:
        if url in ("/", SOCKETS):
            continue
        assert any(path == url or path.startswith(f"{url}/") for path in routes), url


def test_one_name_per_agent() -> None:
    """An agent's folder, deployment, route module and URL say the same thing where the API's
    paths allow: the Operations agent's all four."""
    (row,) = [r for r in component_table() if r["component"] == "Operations agent (OSA)"]
    assert row == {
        "component": "Operations agent (OSA)",
        "folder": ["rivergen/agents/operations/"],
        "deployment": ["operations"],
        "route module": ["rivergen/api/operations.py"],
        "URL": ["/api/v1/operations"],
    }
    for agent in ("Prompt Studio (PSA)", "Model Studio (MSA)", "Governance agent (GA)"):
        (row,) = [r for r in component_table() if r["component"] == agent]
        (folder,), (deployment,) = row["folder"], row["deployment"]
        assert folder.rstrip("/").rsplit("/", 1)[1] == deployment.replace("-", "_"), agent
