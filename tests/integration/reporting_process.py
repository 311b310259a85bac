"""A test script run as its own OS process, reporting JSON lines on stdout, that a test can
SIGKILL mid-stream (no cleanup, no commit, no goodbye to a consumer group) and start again."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The scripts import the test package (this module among others).
REPO_ROOT = Path(__file__).resolve().parents[2]


def tail(path: Path, lines: int = 30) -> str:
    return (
        "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
    )


@dataclass
class ReportingProcess:
    """One run of the script and what it reported."""

    proc: asyncio.subprocess.Process
    reports: list[dict[str, Any]]
    reader: asyncio.Task[None]
    stderr_path: Path

    @classmethod
    async def spawn(cls, script: str, args: list[str], stderr_path: Path) -> ReportingProcess:
        with stderr_path.open("ab") as stderr:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                script,
                *args,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env={
                    **os.environ,
                    "PYTHONPATH": os.pathsep.join(
                        filter(None, (str(REPO_ROOT), os.environ.get("PYTHONPATH")))
                    ),
                },
            )
        reports: list[dict[str, Any]] = []

        async def read() -> None:
            assert proc.stdout is not None
            async for line in proc.stdout:
                reports.append(json.loads(line))

        return cls(proc, reports, asyncio.create_task(read()), stderr_path)

    def total(self, key: str) -> int:
        return sum(r.get(key, 0) for r in self.reports)

    async def wait_until(
        self, what: str, check: Callable[[ReportingProcess], bool], timeout_s: float
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if check(self):
                return
            if self.proc.returncode is not None or self.reader.done():
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"never reached {what}; stderr:\n{tail(self.stderr_path)}")

    async def first_report(self, key: str, timeout_s: float) -> dict[str, Any]:
        """The first report that has ``key``, once it comes."""
        await self.wait_until(
            f"a report of {key!r}", lambda p: any(key in r for r in p.reports), timeout_s
        )
        return next(r for r in self.reports if key in r)

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await asyncio.wait_for(self.proc.wait(), 10)
        await asyncio.wait_for(self.reader, 10)
