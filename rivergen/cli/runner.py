"""`rivergen up`: the whole platform on one machine, in the foreground.

Order: check configured services (fail fast) -> start embedded defaults for the rest -> export
the resolved settings -> migrate -> prepare storage and topics -> start Ray (local head with its
dashboard, or join a configured cluster) -> deploy the Serve apps (event workers, gateway,
Storage Orchestration, the Socket.io cluster) -> wait for /readyz.
Stopping (Ctrl-C, SIGTERM, `rivergen down`) undoes it in reverse.

The Serve applications are ``deployments/``'s, above this library: :func:`run_platform` takes
them as :class:`ServeApps` (``deployments/platform.py`` has them, and runs it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import httpx

from rivergen.clients import require
from rivergen.db import MigrationRunner
from rivergen.embedded import EmbeddedServices, start_embedded
from rivergen.errors import ConfigurationError
from rivergen.events import connect_event_bus, ensure_platform_topics
from rivergen.objectstore import connect_object_store
from rivergen.preflight import check_configured_services
from rivergen.settings import Settings, load_settings

HA_PROXY_ENV = {"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"}
# Serve's HTTP servers are uvicorn's, which by default take X-Forwarded-For from any loopback
# peer (the ingress, but also any local client that forges one). The gateway reads the header
# itself, from RIVERGEN_GATEWAY__TRUSTED_PROXIES alone.
PROXY_HEADERS_ENV = {"FORWARDED_ALLOW_IPS": ""}
# Serve's HAProxy connects to the replicas on this machine from loopback: the gateway takes the
# client's address from its X-Forwarded-For (deployments/haproxy_ingress.py sets it).
LOOPBACK = "127.0.0.1"
LOCAL_HAPROXY = f"{LOOPBACK}/32"
# In HAProxy mode a stopping replica keeps serving for this drain period (30 s by default, for
# load balancers in front of many nodes); on one machine HAProxy reloads at once.
LOCAL_DRAIN_ENV = {"RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "3"}
READY_TIMEOUT_S = 120.0


def state_file(settings: Settings) -> Path:
    return settings.data_dir.expanduser().resolve() / "run" / "rivergen.json"


@dataclass
class RunState:
    """What `rivergen status` and `rivergen down` need to find a running platform."""

    pid: int
    api_url: str
    dashboard_url: str | None
    services: dict[str, str] = field(default_factory=dict)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=2))
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> RunState | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def prepare_backends(settings: Settings) -> None:
    """Migrate Postgres, create the bucket (or directory) and the event topics."""
    dsn = settings.postgres.migrate_dsn or settings.postgres.dsn
    await MigrationRunner(require(dsn, "postgres", "RIVERGEN_POSTGRES__DSN")).apply(
        settings.startup_timeout_s
    )
    objects = connect_object_store(settings)
    try:
        await objects.ensure_bucket()
    finally:
        await objects.close()
    redis_url = require(settings.redis_app.url, "redis_app", "RIVERGEN_REDIS_APP__URL")
    bus = connect_event_bus(settings, redis_url=redis_url)
    await bus.start()
    try:
        await ensure_platform_topics(bus)
    finally:
        await bus.stop()


def describe_services(settings: Settings, embedded: EmbeddedServices) -> dict[str, str]:
    started = set(embedded.started)
    return {
        "postgres": "embedded" if "postgres" in started else "configured",
        "redis": "embedded" if "redis" in started else "configured",
        "events": "kafka" if settings.kafka.bootstrap_servers else "embedded (Redis Streams)",
        "object_store": "s3" if settings.s3.configured else "local directory",
        "ray": settings.ray.address or "local head",
    }


def wait_ready(url: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=5.0)
            last = response.json()
            if response.status_code == 200:
                return last
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise ConfigurationError(f"the platform did not become ready within {timeout_s:g} s: {last}")


class StopRequested(Exception):
    """SIGTERM or Ctrl-C: unwind and stop what was started."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise StopRequested()


def _set_defaults(env: dict[str, str]) -> None:
    for name, value in env.items():
        os.environ.setdefault(name, value)


class ServeApps(Protocol):
    """The platform's Serve applications, for :func:`run_platform`."""

    def local_ingress_env(self, settings: Settings) -> dict[str, str]:
        """The environment a local head's HAProxy ingress needs (set before Ray starts)."""
        ...

    def deploy(self, settings: Settings) -> None:
        """Start Serve on the connected cluster and run every application."""
        ...

    def remove(self, settings: Settings) -> None:
        """Delete the applications (a configured cluster) or shut Serve down (a local head)."""
        ...


def run_platform(
    settings: Settings,
    apps: ServeApps,
    *,
    say: Any = print,
    on_ready: Callable[[str, Settings], None] | None = None,
) -> int:
    """Run until interrupted; returns the process exit code. ``on_ready(api_url, settings)``
    runs once the platform answers ready (the demo's seeding)."""
    # From here on SIGTERM (`rivergen down`, a supervisor) unwinds through the cleanup below.
    signal.signal(signal.SIGTERM, _raise_stop)
    asyncio.run(check_configured_services(settings))
    embedded = start_embedded(settings)
    ray_started = False
    try:
        os.environ.update(embedded.env)
        _set_defaults(PROXY_HEADERS_ENV)
        if settings.http.ha_proxy:
            os.environ.update(HA_PROXY_ENV)
            if settings.ray.address is None:
                _set_defaults(LOCAL_DRAIN_ENV)
                _set_defaults(apps.local_ingress_env(settings))
        resolved = load_settings()  # now with the embedded addresses
        say("applying migrations, preparing storage and topics")
        asyncio.run(prepare_backends(resolved))
        say("starting Ray and deploying the Serve app")
        import ray

        dashboard_url = None
        if resolved.ray.address:
            ray.init(address=resolved.ray.address, logging_level=logging.WARNING)
        else:
            # A Python job's entrypoint (`python script.py`) runs with the head's PATH: make
            # `python` the one RiverGen runs in, where the SDK is installed.
            python_dir = str(Path(sys.executable).parent)
            if os.environ.get("PATH", "").split(os.pathsep)[0] != python_dir:
                os.environ["PATH"] = os.pathsep.join([python_dir, os.environ.get("PATH", "")])
            with _local_head_params(resolved.ray.dashboard_agent_port):
                ray.init(
                    # "local": always a new head, never a stale cluster this machine ran before.
                    address="local",
                    num_cpus=resolved.ray.num_cpus,
                    include_dashboard=True,
                    dashboard_host=resolved.ray.dashboard_host,
                    dashboard_port=resolved.ray.dashboard_port,
                    logging_level=logging.WARNING,
                )
            dashboard_url = f"http://{resolved.ray.dashboard_host}:{resolved.ray.dashboard_port}"
        ray_started = True
        # Ray's core worker installs its own SIGTERM handler (log and exit) in ray.init: take
        # the signals back so a stop always runs the cleanup below.
        signal.signal(signal.SIGTERM, _raise_stop)
        signal.signal(signal.SIGINT, _raise_stop)
        apps.deploy(resolved)
        api_url = f"http://{resolved.http.host}:{resolved.http.port}"
        wait_ready(f"{api_url}/readyz", READY_TIMEOUT_S)
        state = RunState(os.getpid(), api_url, dashboard_url, describe_services(resolved, embedded))
        state.write(state_file(resolved))
        say(banner(state, resolved))
        if on_ready is not None:
            on_ready(api_url, resolved)
        try:
            while True:
                time.sleep(3600)
        except (StopRequested, KeyboardInterrupt):
            say("stopping")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if ray_started:
            _stop_ray(settings, apps)
        embedded.stop()
        state_file(settings).unlink(missing_ok=True)


@contextmanager
def _local_head_params(agent_port: int) -> Iterator[None]:
    """Start the local head on loopback, its dashboard agent's HTTP server on ``agent_port``.

    ``ray.init`` has a parameter for neither. Its ``_node_ip_address`` turns a loopback address
    into the machine's (``resolve_ip_for_localhost``), so the GCS, raylet, workers and agents
    would listen on every interface; with the node's address 127.0.0.1 they all listen on
    loopback (what ``ray start --node-ip-address=127.0.0.1`` does). The agent serves the Jobs
    API's submissions and always asks for 52365 (only ``ray start
    --dashboard-agent-listen-port`` moves it): when another Ray on the machine holds that port,
    the agent runs without HTTP and every job submission fails with "No available agent to
    submit job". ``ray.init`` builds its ``RayParams`` through the module attribute, so a
    subclass with these values stands in while it runs.
    """
    from ray._private import parameter

    original = parameter.RayParams

    class _LocalHead(original):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("dashboard_agent_listen_port", agent_port)
            if kwargs.get("node_ip_address") is None:
                kwargs["node_ip_address"] = LOOPBACK
            super().__init__(*args, **kwargs)

    parameter.RayParams = _LocalHead  # type: ignore[misc]
    try:
        yield
    finally:
        parameter.RayParams = original  # type: ignore[misc]


def _stop_ray(settings: Settings, apps: ServeApps) -> None:
    import ray

    try:
        apps.remove(settings)
    finally:
        ray.shutdown()


def banner(state: RunState, settings: Settings) -> str:
    lines = [
        "RiverGen is up.",
        f"  Web client  {state.api_url}/",
        f"  API         {state.api_url}/api/v1",
        f"  API docs    {state.api_url}/docs",
        f"  Readiness   {state.api_url}/readyz",
        f"  Socket.io   {state.api_url}/socket.io  (websocket transport, auth: {{token}})",
    ]
    if state.dashboard_url:
        lines.append(
            f"  Dashboard   {state.dashboard_url}  (sign in with the token `ray get-auth-token`)"
        )
    lines.append(f"  Data dir    {settings.data_dir.expanduser().resolve()}")
    lines.append("  Services    " + ", ".join(f"{k}: {v}" for k, v in state.services.items()))
    lines.append("Stop with Ctrl-C or `rivergen down`.")
    return "\n".join(lines)


def stop_platform(settings: Settings, timeout_s: float = 60.0) -> bool:
    """Signal a running `rivergen up` and wait for it to finish; False if none was running.

    Finds it by the state file that `rivergen up` writes once it is ready; a `rivergen up`
    that is still starting stops on SIGTERM (or Ctrl-C) too.
    """
    state = RunState.read(state_file(settings))
    if state is None or not pid_alive(state.pid):
        state_file(settings).unlink(missing_ok=True)
        return False
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while pid_alive(state.pid):
        if time.monotonic() > deadline:
            os.kill(state.pid, signal.SIGKILL)
            break
        time.sleep(0.2)
    return True
