from __future__ import annotations

from typing import Any, NoReturn

import pytest


@pytest.fixture(autouse=True)
def _no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests never start Ray: a test that needs it belongs in tests/e2e."""
    ray = pytest.importorskip("ray")

    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise RuntimeError("unit tests must not start Ray")

    monkeypatch.setattr(ray, "init", refuse)
