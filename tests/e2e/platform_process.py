"""Drive `rivergen up` as a user does: a separate process, its output, `rivergen down`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

RIVERGEN = [sys.executable, "-m", "rivergen"]
# The README's run command: installs what is missing into .venv, then execs `rivergen up`.
README_RUN = [str(Path(__file__).resolve().parents[2] / "scripts" / "run")]


def clean_env(**overrides: str) -> dict[str, str]:
    """The caller's environment without any RIVERGEN_ setting, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERGEN_")}
    env.update(overrides)
    return env


@dataclass
class RunningPlatform:
    process: subprocess.Popen[str]
    api_url: str
    data_dir: Path
    env: dict[str, str]
    output: list[str] = field(default_factory=list)

    def rivergen(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*RIVERGEN, *args, "--data-dir", str(self.data_dir)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def wait_for(self, text: str, timeout_s: float) -> str:
        """Read the output until a line containing ``text``; that line."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        while True:
            for line in self.output:
                if text in line:
                    return line
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} in {timeout_s} s:\n{''.join(self.output)}")
            line = self.process.stdout.readline()
            if line:
                self.output.append(line)
            else:
                time.sleep(0.1)

    def process_tree(self) -> list[psutil.Process]:
        """The `up` process, its descendants, and anything running from its data dir
        (the embedded Postgres daemonizes, so it is nobody's child)."""
        root = psutil.Process(self.process.pid)
        found = {p.pid: p for p in [root, *root.children(recursive=True)]}
        marker = str(self.data_dir)
        for proc in psutil.process_iter(["cmdline"]):
            if any(marker in part for part in proc.info["cmdline"] or []):
                found[proc.pid] = proc
        return list(found.values())


@contextmanager
def platform_up(
    data_dir: Path,
    env: dict[str, str],
    port: int,
    timeout_s: float = 240,
    command: list[str] | None = None,
) -> Iterator[RunningPlatform]:
    """Start `rivergen up` and yield once it has printed its banner; always stop it after."""
    process = subprocess.Popen(
        [*(command or [*RIVERGEN, "up"]), "--data-dir", str(data_dir), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = RunningPlatform(process, f"http://127.0.0.1:{port}", data_dir, env)
    try:
        assert process.stdout is not None
        os.set_blocking(process.stdout.fileno(), False)
        try:
            running.wait_for("Stop with Ctrl-C", timeout_s)
        except AssertionError:
            time.sleep(0.5)
            rest = "".join(process.stdout.readlines())
            raise AssertionError(
                f"rivergen up did not come up in {timeout_s} s "
                f"(exit {process.poll()}):\n{''.join(running.output)}{rest}"
            ) from None
        yield running
    finally:
        if process.poll() is None:
            running.rivergen("down")
        if process.poll() is None:
            process.terminate()  # still starting: SIGTERM unwinds it as well
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
