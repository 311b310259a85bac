"""A gateway replica killed while serving a steady stream of writes.

The gateway runs on Ray Serve (HAProxy ingress) with 2 replicas. Clients send a steady stream
of policy creations, each with its own ``Idempotency-Key``, retrying on a lost connection, a
server error or 409 ``idempotency_in_progress``. Mid-stream one replica's actor is killed.
What holds: only requests in flight on it fail (their retries then succeed), every request
succeeds in the end, each exactly once (no duplicate row), and Serve brings the replica count
back to 2.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from rivergen.cli.runner import HA_PROXY_ENV, LOCAL_DRAIN_ENV
from rivergen.db import Database
from rivergen.settings import GatewaySettings, Settings
from tests.chaos.conftest import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PORT = 23650
STATS_PORT, METRICS_PORT = 23651, 23652
BASE = f"http://127.0.0.1:{PORT}"
APP = "rivergen"
REQUESTS = 300
CLIENTS = 8
KILL_AFTER = 100
RETRY_FOR_S = 30.0


@pytest.fixture(scope="module")
def platform(migrated: Settings) -> Iterator[str]:
    import ray
    from ray import serve

    from deployments.gateway import gateway_app

    with pytest.MonkeyPatch.context() as env:
        # The replicas read their settings from the Ray processes' environment.
        for name, value in {**HA_PROXY_ENV, **LOCAL_DRAIN_ENV}.items():
            env.setenv(name, value)
        env.setenv("RIVERGEN_GATEWAY__RATE_LIMIT", "false")
        for name, value in {
            "RAY_SERVE_HAPROXY_STATS_PORT": STATS_PORT,
            "RAY_SERVE_HAPROXY_METRICS_PORT": METRICS_PORT,
            "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": 23660,
            "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": 23679,
            "RAY_SERVE_DIRECT_INGRESS_MIN_GRPC_PORT": 23680,
            "RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT": 23699,
        }.items():
            env.setenv(name, str(value))
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
        try:
            serve.start(http_options={"host": "127.0.0.1", "port": PORT})
            two = GatewaySettings(min_replicas=2, max_replicas=2)  # type: ignore[call-arg]
            serve.run(gateway_app(two), name=APP, route_prefix="/")
            yield BASE
        finally:
            serve.shutdown()  # type: ignore[no-untyped-call]
            ray.shutdown()


def gateway_replicas() -> list[str]:
    import ray

    return sorted(
        a["name"]
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a["name"].startswith(f"SERVE_REPLICA::{APP}#gateway#")
    )


def running_gateway_replicas() -> int:
    from ray import serve

    status = serve.status().applications[APP].deployments["gateway"]
    return int(status.replica_states.get("RUNNING", 0))


@dataclass
class Stream:
    """What the clients saw."""

    in_flight: int = 0
    in_flight_at_kill: int = -1
    done: int = 0
    failed: set[int] = field(default_factory=set)  # requests with at least one failed attempt
    killed_at: float = float("inf")
    # Failed attempts sent after the kill: the ingress still routing to the dead replica.
    late_failures: int = 0
    attempts: int = 0
    replays: int = 0
    ids: dict[int, str] = field(default_factory=dict)


async def send_once(
    http: httpx.AsyncClient, headers: dict[str, str], run: str, n: int, stream: Stream
) -> None:
    """One logical request, retried with the same key until it succeeds."""
    body = {"name": f"{run}-{n}", "enabled": False, "rule": {"type": "access"}}
    keyed = {**headers, "Idempotency-Key": f"{run}-{n}"}
    deadline = time.monotonic() + RETRY_FOR_S
    stream.in_flight += 1
    try:
        while True:
            stream.attempts += 1
            sent_at = time.monotonic()
            try:
                response = await http.post("/api/v1/policies", json=body, headers=keyed)
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code == 201:
                stream.ids[n] = response.json()["id"]
                stream.replays += response.headers.get("idempotent-replayed") == "true"
                return
            retryable = (
                response is None
                or response.status_code >= 500
                or (
                    response.status_code == 409
                    and response.json()["error"]["code"] == "idempotency_in_progress"
                )
            )
            assert retryable, f"request {n}: {response.status_code} {response.text}"
            stream.failed.add(n)
            stream.late_failures += sent_at > stream.killed_at
            assert time.monotonic() < deadline, f"request {n} never succeeded"
            await asyncio.sleep(0.1)
    finally:
        stream.in_flight -= 1
        stream.done += 1


async def register(http: httpx.AsyncClient) -> dict[str, str]:
    made = await http.post(
        "/api/v1/auth/register",
        json={
            "email": f"chaos-{uuid.uuid4().hex[:10]}@example.com",
            "password": "a long password here",
            "display_name": "Chaos",
        },
    )
    assert made.status_code == 201, made.text
    body = made.json()
    return {
        "Authorization": f"Bearer {body['access_token']}",
        "X-Workspace-ID": body["workspace_id"],
    }


@pytest.mark.timeout(60, func_only=True)
async def test_killing_a_replica_mid_stream_loses_and_repeats_nothing(
    platform: str, db: Database
) -> None:
    import ray

    await eventually("2 gateway replicas", _sync(lambda: running_gateway_replicas() == 2), 30)
    run = f"chaos-{uuid.uuid4().hex[:8]}"
    stream = Stream()
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=platform, timeout=20, limits=limits) as http:
        headers = await register(http)
        queue = iter(range(REQUESTS))

        async def client() -> None:
            for n in queue:
                await send_once(http, headers, run, n, stream)

        started = time.monotonic()
        clients = [asyncio.create_task(client()) for _ in range(CLIENTS)]
        await eventually("the stream under way", _sync(lambda: stream.done >= KILL_AFTER), 30)
        victim = gateway_replicas()[0]
        stream.in_flight_at_kill = stream.in_flight
        ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)
        killed_at = stream.killed_at = time.monotonic()
        await asyncio.gather(*clients)
        elapsed = time.monotonic() - started

    restored = await eventually(
        "the replica count restored",
        _sync(lambda: running_gateway_replicas() == 2 and victim not in gateway_replicas()),
        30,
        every_s=0.2,
    )
    async with db.transaction(headers["X-Workspace-ID"]) as conn:
        rows = await conn.fetch(
            "SELECT name, count(*) AS n FROM policies WHERE name LIKE $1 GROUP BY name",
            f"{run}-%",
        )
    per_name = {r["name"]: r["n"] for r in rows}
    assert sorted(stream.ids) == list(range(REQUESTS))
    assert len(set(stream.ids.values())) == REQUESTS
    assert per_name == {f"{run}-{n}": 1 for n in range(REQUESTS)}
    assert len(stream.failed) <= stream.in_flight_at_kill, (stream.failed, stream.in_flight_at_kill)
    print(
        f"{REQUESTS} writes through a replica kill in {elapsed:.1f} s: "
        f"{len(stream.failed)} failed at first (in flight at the kill: "
        f"{stream.in_flight_at_kill}), {stream.attempts - REQUESTS} retries, "
        f"{stream.replays} replayed, {stream.late_failures} failed attempts sent after the "
        f"kill, 0 duplicates; replica back "
        f"{time.monotonic() - killed_at - 0:.1f} s after the kill ({restored:.1f} s wait)"
    )


def _sync(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def poll() -> bool:
        return check()

    return poll
