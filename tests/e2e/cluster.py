"""A three-node Ray cluster on this machine, started the way an operator starts one: `ray start
--head` and two `ray start --address`, then `serve deploy deployments/serve_config.yaml` with only
the HTTP address changed. The e2e suite runs its flows against it (one cluster for the suite).

Every port comes from one block (``BASE_PORT`` .. ``BASE_PORT + 99``), so the suite never meets
another Ray or Serve on the machine: the head's GCS, dashboard and client server; per node the
node and object managers, the metrics endpoint, the dashboard and runtime-env agents, HAProxy's
stats and metrics listeners and (worker nodes) Serve's HTTP port; the replicas' direct-ingress
ports. Workers' own ports are the OS's choice (port 0).

The processes of each node run in a session of their own (`start_new_session`): stopping the
cluster ends those sessions and checks that no process of them is left.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import psutil
import yaml

from rivergen.cli.runner import HA_PROXY_ENV, LOCAL_DRAIN_ENV
from tests.conftest import REPO_ROOT
from tests.integration.redis_server import RedisServer

BIN = Path(sys.executable).parent
SERVE_CONFIG = REPO_ROOT / "deployments" / "serve_config.yaml"

# RIVERGEN_TEST_CLUSTER_PORT moves the block, for two runs on one machine.
BASE_PORT = int(os.environ.get("RIVERGEN_TEST_CLUSTER_PORT", "23800"))
GCS_PORT = BASE_PORT
DASHBOARD_PORT = BASE_PORT + 1
CLIENT_SERVER_PORT = BASE_PORT + 2
HTTP_PORT = BASE_PORT + 3
REDIS_SOCKET_PORT = BASE_PORT + 4
NODE_PORTS_BASE = BASE_PORT + 10  # node i: NODE_PORTS_BASE + 10 * i + offset (see NodePorts)
INGRESS_HTTP_PORTS = (BASE_PORT + 60, BASE_PORT + 79)
INGRESS_GRPC_PORTS = (BASE_PORT + 80, BASE_PORT + 99)
WORKER_NODES = 2
# Ray reports metrics every 10 s by default: often enough for dashboards, slow for a test.
METRICS_REPORT_INTERVAL_MS = 1000


class SuiteRedis(RedisServer):
    """The cluster's Redis Socket server: tests kill and start it again."""

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None


@dataclass(frozen=True)
class NodePorts:
    """The ports of node ``index`` (0: the head)."""

    index: int

    def port(self, offset: int) -> int:
        return NODE_PORTS_BASE + 10 * self.index + offset

    @property
    def metrics(self) -> int:
        return self.port(2)

    def ray_start_args(self) -> list[str]:
        return [
            f"--node-manager-port={self.port(0)}",
            f"--object-manager-port={self.port(1)}",
            f"--metrics-export-port={self.metrics}",
            f"--dashboard-agent-listen-port={self.port(3)}",
            f"--dashboard-agent-grpc-port={self.port(4)}",
            f"--runtime-env-agent-port={self.port(5)}",
            "--min-worker-port=0",
            "--max-worker-port=0",
        ]

    def env(self) -> dict[str, str]:
        """What Serve on this node reads from the Ray processes' environment."""
        env = {
            "RAY_SERVE_HAPROXY_STATS_PORT": str(self.port(6)),
            "RAY_SERVE_HAPROXY_METRICS_PORT": str(self.port(7)),
        }
        if self.index > 0:
            # Serve's HTTP port is the head's; each worker node's HAProxy needs its own.
            env["RAY_SERVE_WORKER_PROXY_HTTP_PORT"] = str(self.port(8))
        return env


@dataclass
class RayCluster:
    """A running cluster: its addresses, the environment its CLIs and drivers need (the auth
    token), the Redis Socket server of its own, and its nodes' metrics endpoints."""

    temp_dir: Path
    env: dict[str, str]
    redis_socket: SuiteRedis
    gcs_address: str = f"127.0.0.1:{GCS_PORT}"
    dashboard_url: str = f"http://127.0.0.1:{DASHBOARD_PORT}"
    api_url: str = f"http://127.0.0.1:{HTTP_PORT}"
    metrics_urls: list[str] = field(
        default_factory=lambda: [
            f"http://127.0.0.1:{NodePorts(i).metrics}/metrics" for i in range(WORKER_NODES + 1)
        ]
    )
    applications: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.env['RAY_AUTH_TOKEN']}"}

    @property
    def auth_env(self) -> dict[str, str]:
        """What a process needs to reach this cluster's GCS, dashboard and Jobs API."""
        return {name: self.env[name] for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}

    def cli(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``ray ...`` or ``serve ...`` against this cluster."""
        return subprocess.run(
            [str(BIN / tool), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=REPO_ROOT,
        )

    def serve_status(self) -> dict[str, str]:
        """``serve status``: each application's status, by name."""
        status = self.cli("serve", "status", "-a", self.dashboard_url)
        if status.returncode != 0:
            return {}
        report = yaml.safe_load(status.stdout) or {}
        return {n: a["status"] for n, a in (report.get("applications") or {}).items()}

    def nodes(self) -> list[dict[str, Any]]:
        """The alive nodes as the dashboard's state API lists them."""
        response = httpx.get(
            f"{self.dashboard_url}/api/v0/nodes",
            params={"limit": 100},
            headers=self.auth_headers,
            timeout=10,
        )
        response.raise_for_status()
        listed = response.json()["data"]["result"]["result"]
        return [n for n in listed if n["state"] == "ALIVE"]

    def tasks(self, name: str) -> list[dict[str, Any]]:
        """The tasks named ``name`` (the function's name) as the state API lists them."""
        response = httpx.get(
            f"{self.dashboard_url}/api/v0/tasks",
            params={
                "limit": 10_000,
                "filter_keys": "name",
                "filter_predicates": "=",
                "filter_values": name,
                "detail": "true",
            },
            headers=self.auth_headers,
            timeout=30,
        )
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()["data"]["result"]["result"]
        return result

    def scrape(self) -> dict[str, str]:
        """Every node's Prometheus metrics text, by endpoint."""
        texts = {}
        for url in self.metrics_urls:
            try:
                texts[url] = httpx.get(url, timeout=10).text
            except httpx.HTTPError:
                texts[url] = ""
        return texts

    @contextmanager
    def driver_env(self) -> Iterator[None]:
        """This process's environment set for a driver or state-API client of the cluster."""
        # Ray caches the auth mode and token of a process once read: reload them both ways.
        from ray._private import auto_init_hook
        from ray._private.authentication_test_utils import reset_auth_token_state

        # A Ray API called without a connection makes a bare `ray.init()`, which joins the
        # newest cluster on the machine, anyone's: Serve's handle threads do that once the
        # driver has disconnected. This process never connects implicitly from here on.
        auto_init_hook.enable_auto_connect = False

        saved = {name: os.environ.get(name) for name in (*self.auth_env, "RAY_AUTH_TOKEN_PATH")}
        os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
        os.environ.update(self.auth_env)
        reset_auth_token_state()
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            reset_auth_token_state()


def cluster_env(base: Mapping[str, str], redis_socket_url: str) -> dict[str, str]:
    """The Ray processes' environment: the caller's services (RIVERGEN_...), the platform's
    ingress mode, token auth with a token of this cluster's own."""
    env = dict(base, **HA_PROXY_ENV, **LOCAL_DRAIN_ENV)
    for name in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS", "RAY_AUTH_TOKEN_PATH"):
        env.pop(name, None)
    env.update(
        # Ray 2.60 guards a new head with a token; its CLIs send it when told the mode.
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=secrets.token_hex(32),
        RIVERGEN_REDIS_SOCKET__URL=redis_socket_url,
        # The platform's own test job kinds (sleep), and blocks small enough that the SNAP
        # wiki-vote graph (~100k edges) makes several tasks.
        RIVERGEN_JOBS__TEST_KINDS="true",
        RIVERGEN_JOBS__MIN_NNZ_PER_BLOCK="10000",
        # Query jobs over more than 1 MiB stored run on the distributed engine (Daft), so the
        # suite's small TPC-H tables take that path (tests/e2e/test_distributed_sql.py).
        RIVERGEN_ENGINE__DISTRIBUTED_MIN_BYTES=str(1024 * 1024),
        RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT=str(INGRESS_HTTP_PORTS[0]),
        RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT=str(INGRESS_HTTP_PORTS[1]),
        RAY_SERVE_DIRECT_INGRESS_MIN_GRPC_PORT=str(INGRESS_GRPC_PORTS[0]),
        RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT=str(INGRESS_GRPC_PORTS[1]),
        # A Python job's entrypoint (`python script.py`) runs with the nodes' PATH and imports
        # the platform's packages.
        PATH=os.pathsep.join([str(BIN), base.get("PATH", "")]),
        PYTHONPATH=os.pathsep.join(p for p in [str(REPO_ROOT), base.get("PYTHONPATH")] if p),
    )
    return env


def serve_config(temp_dir: Path) -> Path:
    """deployments/serve_config.yaml with only the HTTP host and port changed."""
    config = yaml.safe_load(SERVE_CONFIG.read_text())
    config["http_options"].update(host="127.0.0.1", port=HTTP_PORT)
    local = temp_dir / "serve_config.yaml"
    local.write_text(yaml.safe_dump(config))
    return local


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port: int, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not listening(port):
        assert time.monotonic() < deadline, f"{what} is not listening on {port}"
        time.sleep(0.2)


class ClusterStart:
    """Starts and stops the nodes and the Redis Socket server."""

    def __init__(self, base_env: Mapping[str, str]) -> None:
        # Short: Ray's unix socket paths live under the temp dir (108 bytes at most).
        self.temp_dir = Path(tempfile.mkdtemp(prefix="rg-cl-", dir="/tmp"))
        self.redis = SuiteRedis(REDIS_SOCKET_PORT)
        self.env = cluster_env(base_env, self.redis.url)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[bytes]] = []

    def node(self, index: int, *args: str) -> None:
        ports = NodePorts(index)
        log = (self.temp_dir / f"node-{index}.log").open("wb")
        self.logs.append(log)
        command = [
            str(BIN / "ray"),
            "start",
            "--block",
            "--node-ip-address=127.0.0.1",
            # Two logical CPUs a node: the Serve replicas hold about half of one on each node,
            # and a kernel task needs half of one free where its block is (one CPU left some
            # nodes short by a hundredth, and every task ran on the one node with room).
            "--num-cpus=2",
            f"--temp-dir={self.temp_dir}",
            *ports.ray_start_args(),
            *args,
        ]
        process = subprocess.Popen(
            command,
            env=dict(self.env, **ports.env()),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=REPO_ROOT,
        )
        self.processes.append(process)

    def log_text(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-1500:]}"
            for path in sorted(self.temp_dir.glob("node-*.log"))
        )

    def start(self, running: RayCluster, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        own = (GCS_PORT, DASHBOARD_PORT, HTTP_PORT, REDIS_SOCKET_PORT)
        taken = [p for p in own if listening(p)]
        assert not taken, f"ports {taken} are taken: a cluster of an earlier run still running?"
        self.redis.start()
        system_config = json.dumps({"metrics_report_interval_ms": METRICS_REPORT_INTERVAL_MS})
        self.node(
            0,
            "--head",
            f"--port={GCS_PORT}",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={DASHBOARD_PORT}",
            f"--ray-client-server-port={CLIENT_SERVER_PORT}",
            f"--system-config={system_config}",
        )
        wait_port(GCS_PORT, deadline - time.monotonic(), "the head's GCS")
        self.wait_nodes(running, 1, deadline)
        # One node at a time: a raylet that has not registered within 30 s (Ray's fixed limit)
        # fails its `ray start`, which happens when several start at once on a busy machine.
        for index in range(1, WORKER_NODES + 1):
            for _attempt in range(3):
                self.node(index, f"--address={running.gcs_address}")
                if self.wait_nodes(running, index + 1, deadline):
                    break
                self.kill_session(self.processes.pop())
            else:
                raise AssertionError(f"node {index} did not start:\n{self.log_text()}")

    def wait_nodes(self, running: RayCluster, count: int, deadline: float) -> bool:
        """Wait until ``count`` nodes are alive; False if the last node's `ray start` exited."""
        while True:
            try:
                if len(running.nodes()) >= count:
                    return True
            except httpx.HTTPError:
                pass
            if self.processes[-1].poll() is not None:
                return False
            assert time.monotonic() < deadline, f"not {count} nodes:\n{self.log_text()}"
            time.sleep(0.5)

    def kill_session(self, process: subprocess.Popen[bytes]) -> None:
        for proc in self.sessions([process.pid]):
            with suppress(psutil.Error):
                proc.kill()
        process.wait(10)

    def deploy(self, running: RayCluster, timeout_s: float) -> None:
        """`serve deploy` the platform's config; wait until every application is RUNNING and
        the gateway answers ready with every Socket.io replica listening."""
        deadline = time.monotonic() + timeout_s
        config = serve_config(self.temp_dir)
        running.applications = [
            a["name"] for a in yaml.safe_load(config.read_text())["applications"]
        ]
        while (
            deployed := running.cli("serve", "deploy", str(config), "-a", running.dashboard_url)
        ).returncode != 0:
            assert time.monotonic() < deadline, f"{deployed.stderr}\n{self.log_text()}"
            time.sleep(1)
        statuses: dict[str, str] = {}
        while not all(statuses.get(n) == "RUNNING" for n in running.applications):
            assert time.monotonic() < deadline, f"not RUNNING: {statuses}\n{self.log_text()}"
            time.sleep(1)
            statuses = running.serve_status()
        report: dict[str, Any] = {}
        while report.get("socket_listeners") != 4:
            assert time.monotonic() < deadline, f"not ready: {report}"
            try:
                report = httpx.get(f"{running.api_url}/readyz", timeout=10).json()
            except (httpx.HTTPError, ValueError):
                report = {}
            time.sleep(0.3)

    def sessions(self, ids: Collection[int] | None = None) -> list[psutil.Process]:
        """Every live process of the nodes' sessions (or of the sessions ``ids``)."""
        ids = {p.pid for p in self.processes} if ids is None else ids
        found = []
        for proc in psutil.process_iter():
            try:
                if os.getsid(proc.pid) in ids and proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
            except (ProcessLookupError, psutil.Error):
                continue
        return found

    def stop(self, grace_s: float = 5) -> None:
        """SIGTERM every node's `ray start --block` (it stops its node's processes), SIGKILL
        what is left of their sessions after ``grace_s``; fails if anything still runs."""
        try:
            for process in self.processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while (left := self.sessions()) and time.monotonic() < deadline:
                time.sleep(0.3)
            for proc in left:
                with suppress(psutil.Error):
                    proc.kill()
            for process in self.processes:
                process.wait(10)
            deadline = time.monotonic() + 10
            while (left := self.sessions()) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not left, f"left running: {[(p.pid, p.name()) for p in left]}"
        finally:
            self.redis.stop()
            for log in self.logs:
                log.close()
            shutil.rmtree(self.temp_dir, ignore_errors=True)


@contextmanager
def ray_cluster(base_env: Mapping[str, str], timeout_s: float = 240) -> Iterator[RayCluster]:
    """Start the cluster, deploy the platform on it and yield it; always stop it after (and
    fail if a process of it outlives the stop)."""
    start = ClusterStart(base_env)
    running = RayCluster(start.temp_dir, start.env, start.redis, processes=start.processes)
    try:
        began = time.monotonic()
        start.start(running, timeout_s)
        nodes_up = time.monotonic() - began
        start.deploy(running, timeout_s - nodes_up)
        print(
            f"\nRay cluster: {WORKER_NODES + 1} nodes up in {nodes_up:.0f} s, the platform "
            f"RUNNING and ready {time.monotonic() - began:.0f} s after the start"
        )
        yield running
    finally:
        start.stop()
