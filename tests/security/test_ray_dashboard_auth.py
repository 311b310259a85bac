"""The Ray dashboard and Jobs API of the shipped configs need the operator's token, and listen
on loopback only: checked against a real Ray head started the way docker/start-head.sh and
cluster.yaml start it (`ray start --head --dashboard-host=127.0.0.1` with the env file's
RAY_AUTH_MODE=token and RAY_AUTH_TOKEN), on ports of its own."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(90)]

# Ports of this head, clear of Ray's defaults (another Ray on the machine keeps working).
BASE_PORT = int(os.environ.get("RIVERGEN_TEST_RAY_AUTH_BASE_PORT", "23750"))


@dataclass
class RayHead:
    dashboard: str
    token: str


def shipped_head_command() -> list[str]:
    """The `ray start --head` options docker/start-head.sh and cluster.yaml use, as shipped."""
    script = (REPO_ROOT / "docker" / "start-head.sh").read_text()
    cluster = (REPO_ROOT / "cluster.yaml").read_text()
    for text in (script, cluster):
        assert "--dashboard-host=127.0.0.1" in text
    env_example = (REPO_ROOT / "docker" / "cluster-env" / "rivergen.env.example").read_text()
    assert re.search(r"^RAY_AUTH_MODE=token$", env_example, flags=re.MULTILINE)
    assert re.search(r"^RAY_AUTH_TOKEN=", env_example, flags=re.MULTILINE)
    compose = (REPO_ROOT / "docker" / "compose.yaml").read_text()
    assert re.search(r"^\s*RAY_AUTH_MODE: token$", compose, flags=re.MULTILINE)
    return ["ray", "start", "--head", "--dashboard-host=127.0.0.1"]


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port`` (from /proc/net/tcp)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def ray_head() -> Iterator[RayHead]:
    ray_cli = shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"
    token = secrets.token_hex(32)
    temp_dir = tempfile.mkdtemp(prefix="rg-ray-")
    p = BASE_PORT
    command = [
        ray_cli,
        *shipped_head_command()[1:],
        f"--port={p}",
        f"--dashboard-port={p + 1}",
        f"--node-manager-port={p + 2}",
        f"--object-manager-port={p + 3}",
        f"--dashboard-agent-listen-port={p + 4}",
        f"--dashboard-agent-grpc-port={p + 5}",
        f"--runtime-env-agent-port={p + 6}",
        f"--metrics-export-port={p + 7}",
        f"--ray-client-server-port={p + 8}",
        f"--min-worker-port={p + 20}",
        f"--max-worker-port={p + 49}",
        "--num-cpus=1",
        "--include-dashboard=true",
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
        "--block",
    ]
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": token,
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
    }
    env.pop("RAY_ADDRESS", None)
    head = subprocess.Popen(
        command,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    dashboard = f"http://127.0.0.1:{p + 1}"
    try:
        deadline = time.monotonic() + 75
        while True:
            assert head.poll() is None, "ray start exited early"
            try:
                if httpx.get(f"{dashboard}/api/gcs_healthz", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the Ray dashboard did not start"
            time.sleep(0.5)
        yield RayHead(dashboard, token)
    finally:
        # Only this head's processes: its own session's group (never `ray stop`, which would
        # stop every Ray on the machine).
        try:
            os.killpg(head.pid, signal.SIGTERM)
            head.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(head.pid, signal.SIGKILL)
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_jobs_api_needs_the_operators_token(ray_head: RayHead) -> None:
    jobs = f"{ray_head.dashboard}/api/jobs/"
    anonymous = httpx.get(jobs, timeout=10)
    assert anonymous.status_code == 401, anonymous.text
    wrong = httpx.get(jobs, headers={"Authorization": "Bearer not-the-token"}, timeout=10)
    assert wrong.status_code in (401, 403), wrong.text
    submit = httpx.post(jobs, json={"entrypoint": "echo pwned"}, timeout=10)
    assert submit.status_code == 401, submit.text
    operator = httpx.get(jobs, headers={"Authorization": f"Bearer {ray_head.token}"}, timeout=10)
    assert operator.status_code == 200, operator.text


def test_dashboard_listens_on_loopback_only(ray_head: RayHead) -> None:
    port = int(ray_head.dashboard.rsplit(":", 1)[1])
    addresses = listening_addresses(port)
    # 0100007F is 127.0.0.1 in /proc's byte order; nothing on 0.0.0.0 or ::.
    assert addresses == {"0100007F"}, addresses
    outside = non_loopback_address()
    if outside is not None:
        with pytest.raises(OSError), socket.create_connection((outside, port), timeout=2):
            pass


def test_rivergen_up_binds_its_dashboard_to_loopback() -> None:
    """`rivergen up` passes settings.ray.dashboard_host to ray.init: loopback by default."""
    from rivergen.settings import RaySettings

    assert RaySettings().dashboard_host == "127.0.0.1"
