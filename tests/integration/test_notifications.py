"""Acceptance: events people see reach their workspace's Socket.io room once, and are kept for
catching up, across a bridge killed between delivering and committing.

Real Postgres, Kafka and the Redis Socket server. The Socket.io side is a python-socketio
server with the Redis adapter on a local uvicorn (what the Socket.io cluster runs), with real
Socket.io clients joined to workspace rooms. Each test uses its own topic, consumer group and
Redis channel, so nothing else on the shared servers reaches it.

Run as a script, this file is the bridge process the kill test starts (see ``bridge_process``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import socketio
import uvicorn
from aiokafka.admin import AIOKafkaAdminClient

from rivergen.db import Database
from rivergen.errors import DependencyUnavailable
from rivergen.events import (
    Event,
    KafkaEventBus,
    OutboxRelay,
    OutgoingEvent,
    Topic,
    add_to_outbox,
    ensure_topics,
)
from rivergen.notifications import (
    BridgeOutcome,
    NotificationBridge,
    NotificationEmitter,
    unpack,
    user_room,
    workspace_room,
)
from rivergen.notifications.events import INVITATION_RECEIVED, MEMBER_ADDED
from rivergen.settings import Settings, load_settings
from tests.integration.api_client import Account, register
from tests.integration.reporting_process import ReportingProcess
from tests.platform_app import create_app

pytestmark = pytest.mark.integration

WAIT_S = 60.0
# Ports of this suite (its range is 29400-29499).
ROOMS_PORT = 29411
KILL_PORT = 29412
OUTAGE_PORT = 29413
MEMBER_PORT = 29414
INVITE_PORT = 29415
BURST_PORT = 29416
NOTHING_LISTENS = "redis://127.0.0.1:29499/0"


def secret(value: Any) -> str:
    assert value is not None
    return str(value.get_secret_value())


def open_bus(settings: Settings) -> KafkaEventBus:
    # The broker's minimum session timeout: a killed member leaves the group sooner.
    return KafkaEventBus(settings.kafka, session_timeout_s=6.0)


def open_emitter(settings: Settings, channel: str) -> NotificationEmitter:
    return NotificationEmitter(
        secret(settings.redis_socket.url), settings.redis_socket, channel=channel
    )


# --- the bridge process (the kill test) ------------------------------------------------------


async def bridge_process(args: argparse.Namespace) -> None:
    """Bridge ``--topic`` to rooms on ``--channel``, reporting each batch on stdout. With
    ``--hang`` it stops after delivering its first batch, before the bus commit."""
    settings = load_settings()
    db = Database(secret(settings.postgres.dsn), settings.postgres)
    bus = open_bus(settings)
    await db.open()
    await bus.start()
    bridge = NotificationBridge(
        db,
        bus,
        open_emitter(settings, args.channel),
        topics=[args.topic],
        group_id=args.group,
        name="bridge-1",
        max_records=500,
    )

    async def before_commit(outcome: BridgeOutcome) -> None:
        if args.hang:
            print(json.dumps({"hanging": outcome.emitted}), flush=True)
            await asyncio.sleep(3600)

    await bridge.start()
    print(json.dumps({"started": True}), flush=True)
    try:
        while True:
            outcome = await bridge.poll_once(before_commit)
            if outcome.emitted or outcome.duplicates:
                print(
                    json.dumps({"emitted": outcome.emitted, "duplicates": outcome.duplicates}),
                    flush=True,
                )
    finally:
        await bridge.close()


# --- the Socket.io side --------------------------------------------------------------------


@contextlib.asynccontextmanager
async def socketio_server(settings: Settings, channel: str, port: int) -> AsyncIterator[str]:
    """A Socket.io server with the Redis adapter, joining each socket to the room of the
    workspace its ``auth`` names (the real cluster takes it from the caller's memberships)."""
    manager = socketio.AsyncRedisManager(
        secret(settings.redis_socket.url),
        channel=channel,
        redis_options={"socket_timeout": None, "health_check_interval": 10},
    )
    server = socketio.AsyncServer(async_mode="asgi", client_manager=manager)

    @server.event
    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, str]) -> None:
        await server.enter_room(sid, workspace_room(auth["workspace"]))
        if "user" in auth:
            await server.enter_room(sid, user_room(auth["user"]))

    config = uvicorn.Config(
        socketio.ASGIApp(server), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    web = uvicorn.Server(config)
    serving = asyncio.create_task(web.serve())
    try:
        await until("the Socket.io server to listen", lambda: web.started, 15)
        yield f"http://127.0.0.1:{port}"
    finally:
        web.should_exit = True
        await asyncio.wait_for(serving, 15)
        with contextlib.suppress(Exception):
            await manager.redis.aclose()


class Listener:
    """A Socket.io client in one workspace's room, recording every event it gets."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.messages = 0

        async def record(event: str, data: dict[str, Any]) -> None:
            self.received.extend(unpack(event, data))
            self.messages += 1

        self.client.on("*", record)

    async def connect(self, url: str, workspace: str, user: str | None = None) -> None:
        auth = {"workspace": workspace} if user is None else {"workspace": workspace, "user": user}
        await self.client.connect(url, transports=["websocket"], auth=auth, wait_timeout=10)

    def event_ids(self) -> list[str]:
        return [data["event_id"] for _, data in self.received]


async def subscribed(settings: Settings, channel: str) -> bool:
    """Whether a Socket.io server listens on ``channel`` (its adapter subscribes once the first
    client connects; an emit before that reaches nobody)."""
    client = aioredis.from_url(secret(settings.redis_socket.url))
    try:
        counts = await client.pubsub_numsub(channel)
        return bool(counts and counts[0][1] > 0)
    finally:
        await client.aclose()


# --- helpers -------------------------------------------------------------------------------


async def until(what: str, check: Callable[[], Any], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        await asyncio.sleep(0.05)


async def drop_kafka(settings: Settings, topic: str, group: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    try:
        await admin.start()
        with contextlib.suppress(Exception):
            await admin.delete_consumer_groups([group])
        with contextlib.suppress(Exception):
            await admin.delete_topics([topic])
    finally:
        await admin.close()


@pytest.fixture
async def client(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(migrated)
    async with app.router.lifespan_context(app):
        address = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"
        transport = httpx.ASGITransport(app=app, client=(address, 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http


async def all_pages(
    client: httpx.AsyncClient, account: Account, limit: int
) -> list[dict[str, Any]]:
    """Every notification of the account's workspace, following ``next_since`` from 0."""
    items: list[dict[str, Any]] = []
    since = 0
    while True:
        response = await client.get(
            "/api/v1/notifications",
            params={"since": since, "limit": limit},
            headers=account.headers(),
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        if not page["has_more"]:
            assert page["next_since"] == (items[-1]["id"] if items else since)
            return items
        since = page["next_since"]


async def own_topic(settings: Settings, partitions: int = 1) -> tuple[str, str, str, str]:
    """A run id, and a Kafka topic (made), consumer group and Socket.io channel of its own."""
    run = uuid.uuid4().hex[:12]
    topic, group, channel = f"test.notify.{run}", f"notify-test-{run}", f"socketio-test-{run}"
    await ensure_topics(settings.kafka, [topic], num_partitions=partitions, replication_factor=1)
    return run, topic, group, channel


@contextlib.asynccontextmanager
async def running_bridge(
    settings: Settings, db: Database, partitions: int = 1
) -> AsyncIterator[tuple[KafkaEventBus, str, str]]:
    """A notification bridge running on a topic, group and Socket.io channel of the test's
    own; yields the bus, the topic to publish on and the channel to listen on."""
    _, topic, group, channel = await own_topic(settings, partitions)
    bus = open_bus(settings)
    await bus.start()
    emitter = open_emitter(settings, channel)
    bridge = NotificationBridge(db, bus, emitter, topics=[topic], group_id=group)
    stop = asyncio.Event()
    bridging = asyncio.create_task(bridge.run(stop))
    try:
        yield bus, topic, channel
    finally:
        stop.set()
        await bridging
        await emitter.close()
        await bus.stop()
        await drop_kafka(settings, topic, group)


# --- the tests -----------------------------------------------------------------------------


async def test_events_reach_their_workspace_room_once_and_the_catch_up_list(
    migrated: Settings, db: Database, client: httpx.AsyncClient
) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    alice_socket, bob_socket = Listener(), Listener()
    async with (
        running_bridge(migrated, db, partitions=3) as (bus, topic, channel),
        socketio_server(migrated, channel, ROOMS_PORT) as url,
    ):
        await alice_socket.connect(url, alice.workspace_id)
        await bob_socket.connect(url, bob.workspace_id)
        await until("the server's Redis subscription", lambda: subscribed(migrated, channel))

        # A job's life in Alice's workspace, a file in Bob's, written through the outbox
        # (each in a transaction, as a service does) and published by the relay.
        job = str(uuid.uuid4())
        alice_events = [
            *(
                Event(
                    type="job.progress",
                    workspace_id=alice.workspace_id,
                    data={"job_id": job, "progress": p, "message": f"step {p}"},
                )
                for p in (10, 20, 30, 40, 50)
            ),
            Event(
                type="job.completed",
                workspace_id=alice.workspace_id,
                data={"job_id": job, "kind": "sleep", "compute_seconds": 1.5},
            ),
        ]
        hidden = Event(
            type="usage.compute.used", workspace_id=alice.workspace_id, data={"seconds": 1.5}
        )
        bob_events = [
            Event(
                type="storage.file.created",
                workspace_id=bob.workspace_id,
                data={"file_id": str(uuid.uuid4()), "name": "orders.csv"},
            ),
        ]
        for event in [*alice_events, hidden, *bob_events]:
            async with db.transaction(str(event.workspace_id)) as conn:
                await add_to_outbox(conn, topic, event)
        relay = OutboxRelay(db, bus, topics=[topic])
        while await relay.publish_pending():
            pass

        await until(
            "Alice's six events and Bob's one",
            lambda: len(alice_socket.received) >= 6 and len(bob_socket.received) >= 1,
        )
        await asyncio.sleep(1.0)  # anything extra (a repeat, a leak) would show up now
        await alice_socket.client.disconnect()
        await bob_socket.client.disconnect()

    # Live: each workspace's room got its own events, in order, once; the usage event nobody.
    assert [e for e, _ in alice_socket.received] == ["job.progress"] * 5 + ["job.completed"]
    assert [d["data"]["progress"] for _, d in alice_socket.received[:5]] == [10, 20, 30, 40, 50]
    assert alice_socket.event_ids() == [str(e.event_id) for e in alice_events]
    assert bob_socket.event_ids() == [str(e.event_id) for e in bob_events]
    first = alice_socket.received[0][1]
    assert first["workspace_id"] == alice.workspace_id
    assert first["type"] == "job.progress" and isinstance(first["id"], int)

    # Durable: the catch-up list has the same events, ascending ids, a page at a time.
    kept = await all_pages(client, alice, limit=4)
    assert [n["event_id"] for n in kept] == alice_socket.event_ids()
    assert [n["id"] for n in kept] == [d["id"] for _, d in alice_socket.received]
    assert [n["id"] for n in kept] == sorted(n["id"] for n in kept)
    latest = await client.get("/api/v1/notifications", params={"limit": 2}, headers=alice.headers())
    assert latest.status_code == 200, latest.text
    assert [n["id"] for n in latest.json()["items"]] == [n["id"] for n in kept[-2:]]
    assert latest.json()["next_since"] == kept[-1]["id"]
    caught_up = await client.get(
        "/api/v1/notifications", params={"since": kept[2]["id"]}, headers=alice.headers()
    )
    assert [n["event_id"] for n in caught_up.json()["items"]] == [n["event_id"] for n in kept[3:]]

    # Another workspace's notifications do not exist for Bob, whatever cursor he passes.
    assert [n["event_id"] for n in await all_pages(client, bob, limit=4)] == [
        str(bob_events[0].event_id)
    ]
    before_alice = await client.get(
        "/api/v1/notifications", params={"since": kept[0]["id"] - 1}, headers=bob.headers()
    )
    assert alice_socket.event_ids()[0] not in {n["event_id"] for n in before_alice.json()["items"]}
    foreign = await client.get(
        "/api/v1/notifications", headers=bob.headers(workspace_id=alice.workspace_id)
    )
    assert foreign.status_code in (403, 404), foreign.text


async def test_a_bridge_killed_after_emitting_before_committing_emits_each_event_once(
    migrated: Settings, db: Database, tmp_path: Path
) -> None:
    run, topic, group, channel = await own_topic(migrated)
    workspace = str(uuid.uuid4())
    events = [
        Event(type="job.progress", workspace_id=workspace, data={"job_id": run, "progress": n})
        for n in range(1, 41)
    ]
    bus = open_bus(migrated)
    await bus.start()
    listener = Listener()
    args = ["--topic", topic, "--group", group, "--channel", channel]
    stderr_path = tmp_path / "bridge.stderr"
    runs: list[ReportingProcess] = []
    try:
        async with socketio_server(migrated, channel, KILL_PORT) as url:
            await listener.connect(url, workspace)
            await until("the server's Redis subscription", lambda: subscribed(migrated, channel))
            await bus.publish_many([OutgoingEvent(topic, e) for e in events])

            # Delivered (kept and emitted) but not committed on the bus, then killed.
            runs.append(await ReportingProcess.spawn(__file__, [*args, "--hang"], stderr_path))
            hanging = await runs[-1].first_report("hanging", WAIT_S)
            assert hanging["hanging"] > 0
            await until("the emitted events", lambda: len(listener.received) >= hanging["hanging"])
            await runs[-1].kill()

            # The restarted bridge gets the uncommitted batch again and emits only the rest.
            runs.append(await ReportingProcess.spawn(__file__, args, stderr_path))
            await runs[-1].wait_until(
                "every event delivered",
                lambda p: p.total("emitted") + p.total("duplicates") >= len(events),
                WAIT_S,
            )
            await until("every event live", lambda: len(listener.received) >= len(events))
            await asyncio.sleep(1.0)  # a repeated emit would arrive now
            await listener.client.disconnect()
    finally:
        for process in runs:
            await process.kill()
        await bus.stop()
        await drop_kafka(migrated, topic, group)

    restarted = runs[-1]
    assert restarted.total("duplicates") >= hanging["hanging"]  # redelivered, not re-emitted
    assert hanging["hanging"] + restarted.total("emitted") == len(events)
    seen = Counter(listener.event_ids())
    assert set(seen) == {str(e.event_id) for e in events}
    assert set(seen.values()) == {1}, [k for k, v in seen.items() if v > 1]
    async with db.transaction(workspace) as conn:
        rows = await conn.fetch(
            "SELECT event_id, emitted_at FROM notifications WHERE workspace_id = $1", workspace
        )
    assert len(rows) == len(events)
    assert all(r["emitted_at"] is not None for r in rows)


async def test_a_burst_reaches_a_room_as_a_few_messages_each_event_once_in_order(
    migrated: Settings, db: Database
) -> None:
    run, topic, group, channel = await own_topic(migrated)
    workspace = str(uuid.uuid4())
    events = [
        Event(type="job.progress", workspace_id=workspace, data={"job_id": run, "progress": n})
        for n in range(250)
    ]
    bus = open_bus(migrated)
    await bus.start()
    emitter = open_emitter(migrated, channel)
    bridge = NotificationBridge(db, bus, emitter, topics=[topic], group_id=group)
    listener = Listener()
    polls: list[int] = []
    try:
        async with socketio_server(migrated, channel, BURST_PORT) as url:
            await listener.connect(url, workspace)
            await until("the server's Redis subscription", lambda: subscribed(migrated, channel))
            await bus.publish_many([OutgoingEvent(topic, e) for e in events])
            deadline = time.monotonic() + WAIT_S
            while sum(polls) < len(events):
                assert time.monotonic() < deadline, f"emitted {polls}"
                emitted = (await bridge.poll_once()).emitted
                if emitted:
                    polls.append(emitted)
            await until("the burst live", lambda: len(listener.received) >= len(events))
            await asyncio.sleep(0.5)  # a repeat would arrive now
            await listener.client.disconnect()
    finally:
        await bridge.stop()
        await emitter.close()
        await bus.stop()
        await drop_kafka(migrated, topic, group)

    # Each event once, in order, under its own name; kept and marked emitted.
    assert listener.event_ids() == [str(e.event_id) for e in events]
    assert {name for name, _ in listener.received} == {"job.progress"}
    assert [d["data"]["progress"] for _, d in listener.received] == list(range(250))
    # One message per run of at most 100 of a poll, not one per event.
    assert listener.messages == sum(-(-emitted // 100) for emitted in polls)
    assert listener.messages <= 10, polls
    async with db.transaction(workspace) as conn:
        rows = await conn.fetch("SELECT id, emitted_at FROM notifications ORDER BY id")
    assert len(rows) == len(events) and all(r["emitted_at"] is not None for r in rows)
    assert [r["id"] for r in rows] == [d["id"] for _, d in listener.received]


async def test_an_event_the_redis_socket_server_did_not_take_is_emitted_once_it_is_back(
    migrated: Settings, db: Database
) -> None:
    run, topic, group, channel = await own_topic(migrated)
    workspace = str(uuid.uuid4())
    events = [
        Event(type="dataset.profiled", workspace_id=workspace, data={"dataset_id": run, "n": n})
        for n in range(3)
    ]
    bus = open_bus(migrated)
    await bus.start()
    listener = Listener()
    down = NotificationEmitter(
        NOTHING_LISTENS,
        migrated.redis_socket.model_copy(update={"socket_timeout_s": 1.0}),
        channel=channel,
    )
    try:
        await bus.publish_many([OutgoingEvent(topic, e) for e in events])

        # The emit fails loudly (python-socketio's own manager would log and drop it): nothing
        # is committed on the bus, and the batch is kept for catching up already, every event
        # of it (a failed poll re-reads the uncommitted batch).
        failing = NotificationBridge(db, bus, down, topics=[topic], group_id=group)

        async def kept() -> list[tuple[uuid.UUID, Any]]:
            async with db.transaction(workspace) as conn:
                rows = await conn.fetch(
                    "SELECT event_id, emitted_at FROM notifications ORDER BY id"
                )
            return [(r["event_id"], r["emitted_at"]) for r in rows]

        deadline = time.monotonic() + WAIT_S
        while len(await kept()) < len(events):
            assert time.monotonic() < deadline, await kept()
            with pytest.raises(DependencyUnavailable):
                while not (await failing.poll_once()).emitted:  # an empty poll: poll again
                    pass
            await failing.stop()
        assert await kept() == [(e.event_id, None) for e in events]

        # Back up: the restarted bridge emits every event, the first one included, once.
        emitter = open_emitter(migrated, channel)
        bridge = NotificationBridge(db, bus, emitter, topics=[topic], group_id=group)
        async with socketio_server(migrated, channel, OUTAGE_PORT) as url:
            await listener.connect(url, workspace)
            await until("the server's Redis subscription", lambda: subscribed(migrated, channel))
            emitted = 0
            deadline = time.monotonic() + WAIT_S
            while emitted < len(events):
                assert time.monotonic() < deadline, "the events were not emitted"
                emitted += (await bridge.poll_once()).emitted
            await until("every event live", lambda: len(listener.received) >= len(events))
            await asyncio.sleep(0.5)
            await listener.client.disconnect()
        await bridge.stop()
        await emitter.close()
    finally:
        await down.close()
        await bus.stop()
        await drop_kafka(migrated, topic, group)

    assert listener.event_ids() == [str(e.event_id) for e in events]


async def test_a_new_member_hears_of_it_in_their_own_room(
    migrated: Settings, db: Database, client: httpx.AsyncClient
) -> None:
    alice, bob, carol = [await register(client, n) for n in ("alice", "bob", "carol")]
    me = (await client.get("/api/v1/me", headers=bob.headers())).json()
    # Bob in his own workspace's room and his user room; Carol in hers only.
    bob_socket, carol_socket = Listener(), Listener()
    async with (
        running_bridge(migrated, db) as (bus, topic, channel),
        socketio_server(migrated, channel, MEMBER_PORT) as url,
    ):
        await bob_socket.connect(url, bob.workspace_id, user=me["user_id"])
        await carol_socket.connect(url, carol.workspace_id)
        await until("the server's Redis subscription", lambda: subscribed(migrated, channel))

        added = await client.post(
            f"/api/v1/workspaces/{alice.workspace_id}/members",
            json={"email": bob.email, "role": "editor"},
            headers=alice.headers(),
        )
        assert added.status_code in (200, 201), added.text
        # Bob becomes a member when he accepts the invitation.
        accepted = await client.post(
            f"/api/v1/invitations/{added.json()['invitation_id']}/accept",
            headers={"Authorization": f"Bearer {bob.access_token}"},
        )
        assert accepted.status_code == 200, accepted.text
        # What Backend Core queued with the membership, as the relay would publish it.
        async with db.transaction() as conn:
            row = await conn.fetchrow(
                "SELECT topic, payload FROM event_outbox WHERE payload->>'type' = $1 "
                "AND payload->>'workspace_id' = $2",
                MEMBER_ADDED,
                alice.workspace_id,
            )
        assert row is not None and row["topic"] == Topic.NOTIFICATIONS
        event = Event.model_validate(json.loads(row["payload"]))
        await bus.publish_many([OutgoingEvent(topic, event)])
        await until("Bob's notification", lambda: len(bob_socket.received) >= 1)
        await asyncio.sleep(0.5)

    # Bob is not in Alice's workspace's room, yet he got it, once; Carol got nothing.
    assert [(name, data["event_id"]) for name, data in bob_socket.received] == [
        (MEMBER_ADDED, str(event.event_id))
    ]
    assert bob_socket.received[0][1]["data"] == {
        "user_id": me["user_id"],
        "workspace_id": alice.workspace_id,
        "role": "editor",
    }
    assert carol_socket.received == []
    # Alice's workspace keeps it for catching up, as any of its events.
    kept = await all_pages(client, alice, limit=10)
    assert str(event.event_id) in {n["event_id"] for n in kept}


async def test_an_invitee_hears_of_the_invitation_in_their_own_room_alone(
    migrated: Settings, db: Database, client: httpx.AsyncClient
) -> None:
    alice, bob = [await register(client, n) for n in ("alice", "bob")]
    alice_id = (await client.get("/api/v1/me", headers=alice.headers())).json()["user_id"]
    bob_id = (await client.get("/api/v1/me", headers=bob.headers())).json()["user_id"]
    nobody = f"nobody-{uuid.uuid4().hex[:8]}@example.com"  # no account
    # Alice in her workspace's room (and her user room), Bob in his.
    alice_socket, bob_socket = Listener(), Listener()
    async with (
        running_bridge(migrated, db) as (bus, topic, channel),
        socketio_server(migrated, channel, INVITE_PORT) as url,
    ):
        await alice_socket.connect(url, alice.workspace_id, user=alice_id)
        await bob_socket.connect(url, bob.workspace_id, user=bob_id)
        await until("the server's Redis subscription", lambda: subscribed(migrated, channel))

        invited = {}
        for email in (bob.email, nobody):
            added = await client.post(
                f"/api/v1/workspaces/{alice.workspace_id}/members",
                json={"email": email, "role": "viewer"},
                headers=alice.headers(),
            )
            assert added.status_code in (200, 201), added.text
            invited[email] = added.json()["invitation_id"]
        # What Backend Core queued with the invitations, as the relay would publish it: one
        # event, for the invitee who has an account.
        async with db.transaction() as conn:
            rows = await conn.fetch(
                "SELECT topic, payload FROM event_outbox WHERE payload->>'type' = $1 "
                "AND payload->>'workspace_id' = $2",
                INVITATION_RECEIVED,
                alice.workspace_id,
            )
        assert [r["topic"] for r in rows] == [Topic.NOTIFICATIONS]
        event = Event.model_validate(json.loads(rows[0]["payload"]))
        await bus.publish_many([OutgoingEvent(topic, event)])
        await until("Bob's invitation", lambda: len(bob_socket.received) >= 1)
        await asyncio.sleep(0.5)

    assert [(name, data["event_id"]) for name, data in bob_socket.received] == [
        (INVITATION_RECEIVED, str(event.event_id))
    ]
    assert bob_socket.received[0][1]["data"] == {
        "user_id": bob_id,
        "invitation_id": invited[bob.email],
        "workspace_id": alice.workspace_id,
        "workspace_name": "Personal",
        "role": "viewer",
    }
    pending = await client.get("/api/v1/invitations", headers=bob.headers())
    assert invited[bob.email] in {i["id"] for i in pending.json()}
    # The inviting workspace neither hears it nor lists it: nothing there says whether an
    # invited email has an account.
    assert alice_socket.received == []
    kept = await all_pages(client, alice, limit=10)
    assert str(event.event_id) not in {n["event_id"] for n in kept}


async def test_the_bridge_opens_from_settings_and_closes(migrated: Settings) -> None:
    # What the `notification-bridge` deployment does at start and stop.
    bridge = await NotificationBridge.open(migrated, name="open-test")
    await bridge.close()
    await bridge.close()  # twice is safe


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--channel", required=True)
    parser.add_argument("--hang", action="store_true")
    asyncio.run(bridge_process(parser.parse_args()))
