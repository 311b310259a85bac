"""docs/operations.md is true to the code: every setting, command, file, route, metric and
panel it names exists, and its sizing figures are deployments/serve_config.yaml's."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from ray.serve._private import constants as serve_constants
from typer.main import get_command

from deployments.scaling import LIGHT_NUM_CPUS
from rivergen.acl import ROUTE_ACCESS
from rivergen.cli.main import app
from rivergen.metrics import METRICS
from tests.conftest import REPO_ROOT
from tests.unit.test_docs import setting_variables

DOC = (REPO_ROOT / "docs" / "operations.md").read_text()
SERVE_CONFIG = yaml.safe_load((REPO_ROOT / "deployments" / "serve_config.yaml").read_text())
TOP = ("docker/", "deployments/", "compute/", "rivergen/", "tests/", "scripts/", "docs/")


def deployments() -> dict[str, dict[str, Any]]:
    return {d["name"]: d for a in SERVE_CONFIG["applications"] for d in a["deployments"]}


def bounds(deployment: dict[str, Any]) -> tuple[int, int]:
    scaling = deployment.get("autoscaling_config")
    if scaling is None:
        return deployment["num_replicas"], deployment["num_replicas"]
    return scaling["min_replicas"], scaling["max_replicas"]


def test_readme_links_the_operations_guide() -> None:
    assert "docs/operations.md" in (REPO_ROOT / "README.md").read_text()


def test_every_setting_named_exists() -> None:
    named = set(re.findall(r"\bRIVERGEN_[A-Z0-9_]+", DOC))
    assert named, "the guide names no setting"
    assert sorted(named - set(setting_variables())) == []


def test_every_serve_environment_variable_named_exists() -> None:
    named = set(re.findall(r"\bRAY_SERVE_[A-Z0-9_]+", DOC))
    assert named
    assert sorted(name for name in named if not hasattr(serve_constants, name)) == []


def test_every_rivergen_command_named_exists() -> None:
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    named = set(re.findall(r"`rivergen ([a-z-]+)", DOC)) | set(
        re.findall(r"\brivergen (migrate|up|down|status|submit|jobs)\b", DOC)
    )
    assert "migrate" in named
    assert sorted(named - commands) == []


def test_every_repository_path_named_exists() -> None:
    paths = {
        word.split("[")[0].rstrip("/.,:")
        for word in re.findall(r"`([^`\s]+)`", DOC)
        if word.startswith(TOP) or word == "cluster.yaml"
    }
    assert "deployments/scaling.py" in paths
    # A file the operator makes from a committed example (rivergen.env) counts as there.
    missing = [
        p
        for p in paths
        if "<" not in p
        and not (REPO_ROOT / p).exists()
        and not (REPO_ROOT / f"{p}.example").exists()
    ]
    assert missing == []


def test_every_route_named_exists() -> None:
    routes = {path for _, path in ROUTE_ACCESS}
    named = set(re.findall(r"\b(?:GET|POST|PATCH|DELETE) (/[\w/{}.-]+)", DOC))
    named |= set(re.findall(r"`(/(?:healthz|readyz))`", DOC))
    assert {"/readyz", "/healthz"} <= named
    assert sorted(named - routes) == []


def test_every_metric_is_described_and_every_name_is_real() -> None:
    exported = {spec.exported for spec in METRICS}
    named = set(re.findall(r"\bray_rivergen_[a-z_]+", DOC))
    assert sorted(named - exported) == []
    assert sorted(exported - named) == []


def test_every_panel_named_is_on_the_dashboard() -> None:
    dashboard = json.loads((REPO_ROOT / "deployments/grafana/rivergen.json").read_text())
    titles = {panel["title"] for panel in dashboard["panels"]}
    table = DOC[DOC.index("| metric (on the endpoint)") :]
    named = set(re.findall(r'\("([^"]+)"\)', table.split("\n\n")[0]))
    assert len(named) >= 10
    assert sorted(named - titles) == []


def test_light_num_cpus_is_the_code_value() -> None:
    assert f"`LIGHT_NUM_CPUS` = {LIGHT_NUM_CPUS}" in DOC
    light = [d for d in deployments().values() if d["ray_actor_options"]["num_cpus"] == 0.02]
    assert f"{len(light)} CPUs before the first request" in DOC


def test_reserved_cpus_are_serve_configs() -> None:
    low = sum(d["ray_actor_options"]["num_cpus"] * bounds(d)[0] for d in deployments().values())
    high = sum(d["ray_actor_options"]["num_cpus"] * bounds(d)[1] for d in deployments().values())
    assert f"**{low:.2f} CPUs** at their minimum replicas" in DOC
    assert f"**{high:.2f} CPUs** at\ntheir maximum" in DOC


@pytest.mark.parametrize("name", sorted(deployments()))
def test_every_deployment_is_sized_in_the_table(name: str) -> None:
    deployment = deployments()[name]
    cpus = deployment["ray_actor_options"]["num_cpus"]
    low, high = bounds(deployment)
    table = DOC[DOC.index("| deployments | CPUs per replica |") :].split("\n\n")[0]
    (row,) = [line for line in table.splitlines() if f"`{name}`" in line]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    if name == "event-workers":  # the ingress, named with its CPUs in the event workers' row
        assert f"`event-workers` ingress ({cpus})" in cells[0]
        return
    assert float(cells[1]) == cpus, row
    replicas = str(low) if low == high else f"{low}-{high}"
    assert cells[2] in (replicas, f"{replicas} each"), row
