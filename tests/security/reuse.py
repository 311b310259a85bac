"""Run tests of another module as part of this suite, without copying them and without running
them twice when that module is collected in the same session (the full suite)."""

from __future__ import annotations

import pytest


def once_per_session(request: pytest.FixtureRequest, origin: str) -> None:
    """Skip this reused test if its original in ``origin`` (a path from the repository root)
    runs in this session anyway."""
    original = f"{origin}::{request.node.name}"
    if any(item.nodeid == original for item in request.session.items):
        pytest.skip(f"runs as {original} in this session")
