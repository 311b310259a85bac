"""The floors of the code base hold (scripts/layers.py has the table): the library never
imports ``compute/``, ``deployments/`` or Ray Serve, not even inside a function or for type
checking, and no import circle joins its modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("compute", "deployments", "ray.serve")


def _layers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scripts_layers", ROOT / "scripts" / "layers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


layers = _layers()


def _forbidden(target: str) -> bool:
    return any(target == name or target.startswith(name + ".") for name in FORBIDDEN)


def test_the_library_imports_neither_compute_nor_deployments_nor_serve() -> None:
    found = [
        f"{item.source}:{item.line} imports {item.target}"
        for item in layers.all_imports(ROOT)
        if item.source.split(".")[0] == "rivergen" and _forbidden(item.target)
    ]
    assert found == []


def test_no_import_circle_among_the_library_modules() -> None:
    assert layers.cycles(layers.all_imports(ROOT)) == []


@pytest.mark.parametrize(
    ("code", "target"),
    [
        ("from ray import serve", "ray.serve"),
        ("import ray.serve.handle", "ray.serve.handle"),
        ("def f():\n    from compute.sql import RaySqlRunner", "compute.sql"),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import deployments",
            "deployments",
        ),
    ],
)
def test_the_check_sees_every_kind_of_import(tmp_path: Path, code: str, target: str) -> None:
    (tmp_path / "rivergen").mkdir()
    (tmp_path / "rivergen" / "probe.py").write_text(code + "\n")
    for package in ("compute", "deployments"):
        (tmp_path / package).mkdir()
    targets = [item.target for item in layers.all_imports(tmp_path)]
    assert target in targets and _forbidden(target)


def test_the_check_sees_a_circle(tmp_path: Path) -> None:
    (tmp_path / "rivergen").mkdir()
    (tmp_path / "rivergen" / "__init__.py").write_text("")
    (tmp_path / "rivergen" / "a.py").write_text("from rivergen import b\n")
    (tmp_path / "rivergen" / "b.py").write_text("def f():\n    from rivergen.a import x\n")
    circles = layers.cycles(layers.all_imports(tmp_path))
    assert circles == [["rivergen.a", "rivergen.b"]]
    assert layers.cycles(layers.all_imports(tmp_path), at_load=True) == []
