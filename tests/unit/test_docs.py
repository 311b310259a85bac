"""The README is part of the product: what it promises must hold for the tree."""

from __future__ import annotations

import re

from pydantic import BaseModel
from typer.main import get_command

from rivergen.cli.main import app
from rivergen.settings import Settings
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def setting_variables() -> list[str]:
    names = []
    for name, field in Settings.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            names += [
                f"RIVERGEN_{name.upper()}__{sub.upper()}" for sub in field.annotation.model_fields
            ]
        else:
            names.append(f"RIVERGEN_{name.upper()}")
    return names


def test_every_setting_is_in_the_configuration_table() -> None:
    rows = set(re.findall(r"^\| `(RIVERGEN_[A-Z0-9_]+)` \|", README, flags=re.MULTILINE))
    assert rows == set(setting_variables())


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (REPO_ROOT / ".ci/run").read_text()
    commands = [
        line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))
    ]
    assert commands == ["exec scripts/test"]
    assert re.search(r"^scripts/test\s", README, flags=re.MULTILINE)
    assert re.search(r"^scripts/run\s", README, flags=re.MULTILINE)


def test_every_cli_command_is_documented() -> None:
    group = get_command(app)
    names = set(group.commands)  # type: ignore[attr-defined]
    assert {"up", "down", "status", "migrate"} <= names
    for name in names:
        assert f"`rivergen {name}" in README, name
