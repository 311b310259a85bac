"""`serve deploy deployments/serve_config.yaml` on a Ray head started by `ray start`, the way
`cluster.yaml` and the docker image run the platform."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from rivergen.cli.runner import HA_PROXY_ENV, LOCAL_DRAIN_ENV
from rivergen.settings import Settings
from tests.conftest import REPO_ROOT

BIN = Path(sys.executable).parent
HTTP_PORT = 28002
GCS_PORT = 26390
DASHBOARD_PORT = 28266
DASHBOARD = f"http://127.0.0.1:{DASHBOARD_PORT}"


@pytest.fixture
def ray_head(settings: Settings, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A Ray head in its own process group (`ray start --block`), stopped after the test."""
    # RAY_AUTH_MODE=token: Ray 2.60 guards a new head with a token, and its CLIs (serve deploy)
    # only send the token when told the mode.
    env = dict(os.environ, **HA_PROXY_ENV, **LOCAL_DRAIN_ENV, RAY_AUTH_MODE="token")
    # Ray's default temp dir: a pytest tmp_path is too long for Ray's unix socket paths.
    log = (tmp_path / "ray-start.log").open("w")
    head = subprocess.Popen(
        [str(BIN / "ray"), "start", "--head", "--block", f"--port={GCS_PORT}",
         "--dashboard-host=127.0.0.1", f"--dashboard-port={DASHBOARD_PORT}", "--num-cpus=2"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        env["RAY_HEAD_LOG"] = str(tmp_path / "ray-start.log")
        yield env
    finally:
        head.terminate()
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, 9)
            head.wait(10)
        log.close()


def serve_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "serve"), *args, "-a", DASHBOARD],
        env=env, capture_output=True, text=True, timeout=120, check=False, cwd=REPO_ROOT,
    )  # fmt: skip


@pytest.mark.slow
def test_serve_deploy_runs_every_application(ray_head: dict[str, str], tmp_path: Path) -> None:
    config = yaml.safe_load((REPO_ROOT / "deployments/serve_config.yaml").read_text())
    # The file binds 0.0.0.0:8000 for clusters; here only the port and address change.
    config["http_options"].update(host="127.0.0.1", port=HTTP_PORT)
    local_config = tmp_path / "serve_config.yaml"
    local_config.write_text(yaml.safe_dump(config))

    deadline = time.monotonic() + 90
    while (deployed := serve_cli(ray_head, "deploy", str(local_config))).returncode != 0:
        # The dashboard may still be starting.
        log = Path(ray_head["RAY_HEAD_LOG"]).read_text()
        assert time.monotonic() < deadline, f"{deployed.stderr}\nray start:\n{log}"
        time.sleep(2)

    expected = {app["name"] for app in config["applications"]}
    deadline = time.monotonic() + 150
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        status = serve_cli(ray_head, "status")
        if status.returncode == 0:
            report = yaml.safe_load(status.stdout) or {}
            statuses = {n: a["status"] for n, a in (report.get("applications") or {}).items()}
            if statuses and all(statuses.get(n) == "RUNNING" for n in expected):
                break
        time.sleep(2)
    assert {n: statuses.get(n) for n in expected} == dict.fromkeys(expected, "RUNNING")

    ready = httpx.get(f"http://127.0.0.1:{HTTP_PORT}/readyz", timeout=10)
    assert ready.status_code == 200, json.dumps(ready.json(), indent=2)
