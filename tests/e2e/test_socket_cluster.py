"""The Socket.io cluster on Ray Serve (HAProxy ingress), beside the gateway: 4 replicas under
`/socket.io` on the suite's multi-node cluster, a Redis Socket server of the suite's own as their
adapter (killing it never touches a shared server). Clients spread over the
replicas all get their workspace's events in order and nothing of another workspace; refusals
carry a code; after Redis restarts every replica listens again and events flow, and what was
published during the outage is kept for catching up and delivered once Redis is back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import socketio

from rivergen.accounts.credentials import TokenSigner
from rivergen.db import Database
from rivergen.events import Event, KafkaEventBus, OutgoingEvent, ensure_topics
from rivergen.notifications import NotificationBridge, NotificationEmitter
from rivergen.notifications.rooms import workspace_room
from rivergen.settings import Settings, SocketSettings
from tests.e2e.cluster import RayCluster
from tests.integration.redis_server import RedisServer
from tests.integration.socket_clients import Listener, connect, refusal_code

REPLICAS = 4
CHANNEL = SocketSettings().channel


@pytest.fixture(scope="module")
def redis_socket(cluster: RayCluster) -> Iterator[RedisServer]:
    """The cluster's Redis Socket server; running again after the test, whatever happened."""
    try:
        yield cluster.redis_socket
    finally:
        if not cluster.redis_socket.running:
            cluster.redis_socket.start()


@pytest.fixture(scope="module")
def platform(cluster: RayCluster) -> str:
    """The platform as `serve deploy` runs it on the suite's cluster."""
    return cluster.api_url


async def register(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.post(
        "/api/v1/auth/register",
        json={
            "email": f"socket-{uuid.uuid4().hex[:10]}@example.com",
            "password": "a long password here",
            "display_name": "Socket",
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def subscribers(url: str) -> int:
    client = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        ((_, count),) = await client.pubsub_numsub(CHANNEL)
        return int(count)
    finally:
        await client.aclose()


async def listening_replicas(url: str) -> set[str]:
    client = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        clients = await client.client_list(_type="pubsub")
    finally:
        await client.aclose()
    prefix = "rivergen-socket-"
    return {
        c["name"].removeprefix(prefix)
        for c in clients
        if c.get("name", "").startswith(prefix) and int(c["sub"]) > 0
    }


async def wait_subscribed(url: str, timeout_s: float) -> float:
    start = time.monotonic()
    while True:
        try:
            if await subscribers(url) == REPLICAS:
                return time.monotonic() - start
        except (OSError, aioredis.RedisError):
            pass
        assert time.monotonic() - start < timeout_s, f"not {REPLICAS} subscribers in time"
        await asyncio.sleep(0.1)


async def spread_over_replicas(base: str, token: str, count: int, tries: int = 4) -> list[Listener]:
    """``count`` clients; reconnects some if they all landed on one replica."""
    clients = [await connect(base, token) for _ in range(count)]
    for _ in range(tries):
        ids = [(await c.wait_for("welcome"))[0]["instance_id"] for c in clients]
        if len(set(ids)) >= 2:
            break
        await clients[0].close()
        clients[0] = await connect(base, token)
    return clients


async def caught_up(http: httpx.AsyncClient, token: str, since: int) -> list[dict[str, Any]]:
    """Every notification after ``since`` (the catch-up endpoint, page by page)."""
    found: list[dict[str, Any]] = []
    while True:
        page = await http.get(
            "/api/v1/notifications",
            params={"since": since, "limit": 100},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert page.status_code == 200, page.text
        body = page.json()
        found += body["items"]
        since = body["next_since"]
        if not body["has_more"]:
            return found


@pytest.fixture
async def bridge(
    migrated: Settings, db: Database, redis_socket: RedisServer
) -> AsyncIterator[tuple[KafkaEventBus, str]]:
    """The notification bridge on a topic of the test's own, emitting to the test's Redis
    Socket server; yields the bus and the topic to publish on."""
    run = uuid.uuid4().hex[:8]
    topic = f"test.socket-cluster.{run}"
    await ensure_topics(migrated.kafka, [topic], num_partitions=1, replication_factor=1)
    bus = KafkaEventBus(migrated.kafka, session_timeout_s=6.0)
    await bus.start()
    emitter = NotificationEmitter(redis_socket.url, migrated.redis_socket, channel=CHANNEL)
    worker = NotificationBridge(
        db,
        bus,
        emitter,
        topics=[topic],
        group_id=f"test-socket-cluster-{run}",
        retry_backoff_s=0.5,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        yield bus, topic
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await bus.stop()


@pytest.mark.slow
async def test_socket_cluster_on_serve(
    platform: str,
    redis_socket: RedisServer,
    migrated: Settings,
    db: Database,
    bridge: tuple[KafkaEventBus, str],
) -> None:
    async with httpx.AsyncClient(base_url=platform, timeout=60) as http:
        alice, bob = await register(http), await register(http)
        key = (
            await http.post(
                "/api/v1/api-keys",
                json={"name": "live", "role": "viewer"},
                headers={"Authorization": f"Bearer {alice['access_token']}"},
            )
        ).json()
    ws_a, ws_b = alice["workspace_id"], bob["workspace_id"]
    await wait_subscribed(redis_socket.url, 30)

    # 8 clients of workspace A (6 by token, 2 by API key) and 2 of workspace B.
    clients_a = await spread_over_replicas(platform, alice["access_token"], 6)
    clients_a += [await connect(platform, key["key"]) for _ in range(2)]
    clients_b = [await connect(platform, bob["access_token"]) for _ in range(2)]
    try:
        welcomes = [(await c.wait_for("welcome"))[0] for c in clients_a]
        spread = Counter(w["instance_id"] for w in welcomes)
        print(f"8 clients over the replicas: {dict(spread)}")
        assert len(spread) >= 2, spread
        assert all(workspace_room(ws_a) in w["rooms"] for w in welcomes)
        for c in clients_b:
            assert workspace_room(ws_a) not in (await c.wait_for("welcome"))[0]["rooms"]

        emitter = socketio.AsyncRedisManager(redis_socket.url, channel=CHANNEL, write_only=True)
        steps = 20
        sent_at = time.perf_counter()
        for step in range(steps):
            await emitter.emit(
                "job.progress", {"job_id": "j1", "step": step}, room=workspace_room(ws_a)
            )
        for c in clients_a:
            got = await c.wait_for("job.progress", steps)
            assert [e["step"] for e in got] == list(range(steps))
        took_ms = (time.perf_counter() - sent_at) * 1000
        print(f"{steps} events to 8 clients on {len(spread)} replicas: all in {took_ms:.0f} ms")
        await asyncio.sleep(0.5)
        assert all(c.of("job.progress") == [] for c in clients_b)

        # Refusals: no credentials, an expired token, another workspace's room.
        assert await refusal_code(platform, None) == "credentials_required"
        signer = TokenSigner.from_settings(migrated.auth)
        claims = signer.verify(alice["access_token"])
        expired = signer.issue(
            claims.sub, claims.ws, claims.sid, now=datetime.now(UTC) - timedelta(hours=3)
        )
        assert await refusal_code(platform, expired) == "token_expired"
        refused = await clients_a[0].client.call("join", {"workspace_id": ws_b}, timeout=10)
        assert refused["ok"] is False and refused["error"]["code"] == "workspace_not_found"

        # Redis Socket goes down. What the platform publishes meanwhile is kept by the bridge
        # and listed by the catch-up endpoint at once; clients get it when Redis is back.
        bus, topic = bridge
        http = httpx.AsyncClient(base_url=platform, timeout=60)
        before = await caught_up(http, alice["access_token"], 0)
        since = max((n["id"] for n in before), default=0)
        redis_socket.kill()
        missed = [
            Event(type="job.progress", workspace_id=ws_a, data={"job_id": "j2", "progress": 10 * n})
            for n in range(5)
        ]
        await bus.publish_many([OutgoingEvent(topic, e) for e in missed])
        # (Waits on the table itself: polling the API would spend the plan's request limit.)
        deadline = time.monotonic() + 30
        ids = [e.event_id for e in missed]
        while True:
            async with db.transaction(ws_a) as conn:
                stored = await conn.fetchval(
                    "SELECT count(*) FROM notifications WHERE event_id = ANY($1)", ids
                )
            if stored == len(ids):
                break
            assert time.monotonic() < deadline, f"{stored} of {len(ids)} kept"
            await asyncio.sleep(0.2)
        kept = await caught_up(http, alice["access_token"], since)
        assert [n["event_id"] for n in kept] == [str(e.event_id) for e in missed]
        assert await caught_up(http, bob["access_token"], 0) == []
        await http.aclose()
        await asyncio.sleep(1.0)
        redis_socket.start()
        restarted = time.monotonic()
        took = await wait_subscribed(redis_socket.url, 10)
        print(f"all {REPLICAS} replicas subscribed again {took:.2f} s after the restart")
        # Which replicas listen, by the client name of each one's pub/sub connection.
        listening = await listening_replicas(redis_socket.url)
        assert len(listening) == REPLICAS and set(spread) <= listening, (listening, spread)
        # The readiness route follows within its check interval (1 s); the ingress picks the
        # replica that answers.
        async with httpx.AsyncClient(base_url=platform) as readiness:
            while (ready := await readiness.get("/socket.io/readyz")).status_code != 200:
                assert time.monotonic() - restarted < 10, ready.text
                await asyncio.sleep(0.1)
            assert ready.json()["listener"]["subscribed"]
        # The bridge emits what it kept once Redis takes it again, which may be before a replica
        # has subscribed again (pub/sub is at most once: that is what catching up is for). What
        # a client does get of it comes in order and once.
        await asyncio.sleep(1.0)
        expected = [str(e.event_id) for e in missed]
        for c in clients_a:
            live = [e["event_id"] for e in c.of("job.progress")[20:]]
            assert live == [i for i in expected if i in live], live
        emitter = socketio.AsyncRedisManager(redis_socket.url, channel=CHANNEL, write_only=True)
        await emitter.emit("job.completed", {"job_id": "j1"}, room=workspace_room(ws_a))
        for c in clients_a:
            assert await c.wait_for("job.completed") == [{"job_id": "j1"}]
        assert all(c.of("job.completed") == [] for c in clients_b)
    finally:
        for c in clients_a + clients_b:
            await c.close()
