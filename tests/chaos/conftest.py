"""Fault injection on loopback: each case kills or restarts something real and checks what a
user relies on held. Every case is bounded (pytest-timeout) and runs in CI.

Cases that stop a shared backing service use ``scripts/services`` with the environment they
inherit (ports and services dir), so they work against a developer's own instance too.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = REPO_ROOT / "scripts" / "services"


async def services(*args: str, timeout_s: float = 60.0) -> str:
    """Run ``scripts/services ARGS`` (e.g. ``stop kafka``); its output, or an assertion error."""
    process = await asyncio.create_subprocess_exec(
        str(SERVICES),
        *args,
        env=dict(os.environ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    text = out.decode(errors="replace")
    assert process.returncode == 0, f"scripts/services {' '.join(args)} failed:\n{text}"
    return text


def services_sync(*args: str, timeout_s: float = 120.0) -> str:
    """``services`` for a fixture's teardown (which runs even after a test's timeout)."""
    done = subprocess.run(
        [str(SERVICES), *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert done.returncode == 0, f"scripts/services {' '.join(args)} failed:\n{done.stdout}"
    return done.stdout


async def eventually(
    what: str, check: Callable[[], Awaitable[bool]], timeout_s: float, every_s: float = 0.05
) -> float:
    """Poll ``check`` until true; returns the seconds it took."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout_s, f"{what}: not within {timeout_s} s"
        await asyncio.sleep(every_s)
    return time.monotonic() - started
