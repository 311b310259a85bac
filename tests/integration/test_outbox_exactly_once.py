"""Acceptance: events written through the outbox take effect exactly once, across real crashes.

1,000 events are written through the outbox, each in a transaction with a state change, while
a relay publishes them. A consumer in another OS process applies each event's side effect
(a row in a table of this test) through :class:`IdempotentConsumer`. It is SIGKILLed twice in
the middle of the stream, each time after it committed some events' side effects in Postgres
but before it committed their offsets on the bus, and started again. In the end every event
has exactly one side-effect row.

Run as a script, this file is that consumer process (see ``consume``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from rivergen.cache import connect_redis
from rivergen.db import Database, MigrationRunner
from rivergen.events import (
    Event,
    EventBus,
    IdempotentConsumer,
    KafkaEventBus,
    OutboxRelay,
    RedisStreamsEventBus,
    add_to_outbox,
    ensure_topics,
    stream_key,
)
from rivergen.settings import Settings, load_settings
from tests.integration.reporting_process import ReportingProcess

pytestmark = pytest.mark.integration

EVENTS = 1000
WRITERS = 8
WAIT_S = 90.0
NEEDS = {
    "kafka": (
        "RIVERGEN_POSTGRES__DSN",
        "RIVERGEN_POSTGRES__MIGRATE_DSN",
        "RIVERGEN_KAFKA__BOOTSTRAP_SERVERS",
    ),
    "redis-streams": (
        "RIVERGEN_POSTGRES__DSN",
        "RIVERGEN_POSTGRES__MIGRATE_DSN",
        "RIVERGEN_REDIS_APP__URL",
    ),
}


def open_bus(backend: str, settings: Settings) -> EventBus:
    if backend == "kafka":
        # The broker's minimum session timeout: a killed member leaves the group sooner.
        return KafkaEventBus(settings.kafka, session_timeout_s=6.0)
    assert settings.redis_app.url is not None
    return RedisStreamsEventBus(settings.redis_app.url.get_secret_value(), settings.redis_app)


def secret(value: Any) -> str:
    assert value is not None
    return str(value.get_secret_value())


# --- the consumer process ----------------------------------------------------------------


async def consume(args: argparse.Namespace) -> None:
    """Apply each event once: one row in the effects table. Reports each batch on stdout.

    With ``--hang-at N`` it stops, inside the transaction of its N-th new event, once that
    event is not the first new one of its batch: the events before it in the batch are then
    committed in Postgres but not on the bus, which is the window a crash must not turn into
    a repeated side effect. The test kills the process there.
    """
    settings = load_settings()
    bus = open_bus(args.backend, settings)
    db = Database(secret(settings.postgres.dsn), settings.postgres)
    handled = 0
    handled_in_batch = 0

    async def apply(conn: asyncpg.Connection, event: Event) -> None:
        nonlocal handled, handled_in_batch
        await conn.execute(
            f"INSERT INTO {args.effects} (event_id, n) VALUES ($1, $2)",
            event.event_id,
            event.data["n"],
        )
        handled += 1
        handled_in_batch += 1
        if args.hang_at and handled >= args.hang_at and handled_in_batch > 1:
            print(json.dumps({"hanging": handled}), flush=True)
            await asyncio.sleep(3600)

    await db.open()
    await bus.start()
    consumer = IdempotentConsumer(
        bus, db, args.topic, args.group, apply, name="worker-1", max_records=50
    )
    await consumer.start()
    print(json.dumps({"started": True}), flush=True)
    try:
        while True:
            handled_in_batch = 0
            outcome = await consumer.poll_once()
            if outcome.handled or outcome.duplicates:
                print(
                    json.dumps({"handled": outcome.handled, "duplicates": outcome.duplicates}),
                    flush=True,
                )
    finally:
        await consumer.stop()
        await bus.stop()
        await db.close()


# --- the test ----------------------------------------------------------------------------


@pytest.fixture(params=["kafka", "redis-streams"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, Settings]]:
    missing = [v for v in NEEDS[request.param] if not os.environ.get(v)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not set: start the services with `scripts/services up` and "
            'export them with `eval "$(scripts/services env)"`'
        )
    settings = load_settings()
    await MigrationRunner(secret(settings.postgres.migrate_dsn)).apply()
    yield request.param, settings


@pytest.fixture
async def db(backend: tuple[str, Settings]) -> AsyncIterator[Database]:
    _, settings = backend
    database = Database(secret(settings.postgres.dsn), settings.postgres)
    await database.open()
    yield database
    await database.close()


async def count(db: Database, table: str) -> int:
    async with db.transaction() as conn:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))


async def wait_until(what: str, check: Any, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        await asyncio.sleep(0.1)


async def write_through_outbox(db: Database, topic: str, state: str) -> None:
    """EVENTS transactions, each a state change and its event, from WRITERS concurrent tasks."""
    workspaces = [uuid.uuid4() for _ in range(4)]

    async def writer(first: int) -> None:
        for n in range(first, EVENTS, WRITERS):
            workspace = workspaces[n % len(workspaces)]
            async with db.transaction(str(workspace)) as conn:
                await conn.execute(f"INSERT INTO {state} (n) VALUES ($1)", n)
                await add_to_outbox(
                    conn,
                    topic,
                    Event(type="test.outbox.written", workspace_id=workspace, data={"n": n}),
                )

    await asyncio.gather(*(writer(i) for i in range(WRITERS)))


async def test_a_thousand_events_take_effect_exactly_once_across_consumer_kills(
    backend: tuple[str, Settings], db: Database, tmp_path: Path
) -> None:
    name, settings = backend
    run = uuid.uuid4().hex[:12]
    topic, group = f"test.outbox.{run}", f"outbox-test-{run}"
    state, effects = f"events_test_state_{run}", f"events_test_effects_{run}"
    async with db.transaction() as conn:
        await conn.execute(f"CREATE TABLE {state} (id serial PRIMARY KEY, n int NOT NULL)")
        # No unique key on purpose: a repeated side effect must show up as a second row.
        await conn.execute(f"CREATE TABLE {effects} (event_id uuid NOT NULL, n int NOT NULL)")
    try:
        await _run_with_kills(name, settings, db, topic, group, state, effects, tmp_path)
    finally:
        await _clean(db, settings, name, topic, group, state, effects)


async def _run_with_kills(
    name: str,
    settings: Settings,
    db: Database,
    topic: str,
    group: str,
    state: str,
    effects: str,
    tmp_path: Path,
) -> None:
    stderr_path = tmp_path / "consumer.stderr"
    if name == "kafka":
        await ensure_topics(settings.kafka, [topic], num_partitions=3, replication_factor=1)

    bus = open_bus(name, settings)
    await bus.start()
    # Two relays, as with two replicas: they must neither lose nor reorder rows.
    relays = [
        OutboxRelay(db, bus, topics=[topic], batch_size=100, poll_interval_s=0.05) for _ in range(2)
    ]
    for relay in relays:
        relay.start()
    consumer_args = ["--backend", name, "--topic", topic, "--group", group, "--effects", effects]
    runs: list[ReportingProcess] = []
    started = time.monotonic()
    try:
        writing = asyncio.create_task(write_through_outbox(db, topic, state))

        # Two crashes mid-stream, each right after some side effects committed in Postgres
        # and before their offsets were committed on the bus.
        for hang_at in (250, 300):
            before = await count(db, effects)
            runs.append(
                await ReportingProcess.spawn(
                    __file__, [*consumer_args, "--hang-at", str(hang_at)], stderr_path
                )
            )
            hanging = await runs[-1].first_report("hanging", WAIT_S)
            await runs[-1].kill()
            after = await count(db, effects)
            assert after - before == hanging["hanging"] - 1  # the hung event rolled back
            assert after < EVENTS

        runs.append(await ReportingProcess.spawn(__file__, consumer_args, stderr_path))
        await asyncio.wait_for(writing, WAIT_S)
        await wait_until(f"{EVENTS} side effects", lambda: _reached(db, effects, EVENTS))
        await asyncio.sleep(1.0)  # let anything redelivered late show up as a second row
    finally:
        for process in runs:
            await process.kill()
        for relay in relays:
            await relay.stop()
        await bus.stop()

    elapsed = time.monotonic() - started
    async with db.transaction() as conn:
        rows = await conn.fetch(f"SELECT n, count(*) AS times FROM {effects} GROUP BY n")
        written = await conn.fetchval(f"SELECT count(*) FROM {state}")
        unpublished = await conn.fetchval(
            "SELECT count(*) FROM event_outbox WHERE topic = $1 AND published_at IS NULL", topic
        )
        recorded = await conn.fetchval(
            "SELECT count(*) FROM processed_events WHERE consumer = $1", group
        )
    repeated = {r["n"]: r["times"] for r in rows if r["times"] != 1}

    assert written == EVENTS and unpublished == 0
    assert repeated == {}, f"side effects repeated: {repeated}"
    assert sorted(r["n"] for r in rows) == list(range(EVENTS))
    assert recorded == EVENTS
    # The crashes did cause redeliveries, and they were recognised as duplicates.
    assert sum(p.total("duplicates") for p in runs) > 0
    print(
        f"{name}: {EVENTS} events exactly once through 2 kills in {elapsed:.1f} s; "
        f"{sum(p.total('duplicates') for p in runs)} redeliveries skipped"
    )


async def test_the_outbox_commits_with_the_state_change_or_not_at_all(db: Database) -> None:
    committed, rolled_back = Event(type="test.outbox.kept"), Event(type="test.outbox.dropped")
    topic = f"test.outbox.{uuid.uuid4().hex[:12]}"
    try:
        async with db.transaction() as conn:
            await add_to_outbox(conn, topic, committed)
        with pytest.raises(RuntimeError, match="boom"):
            async with db.transaction() as conn:
                await add_to_outbox(conn, topic, rolled_back)
                raise RuntimeError("boom")
        async with db.pool.acquire() as conn:
            with pytest.raises(RuntimeError, match="open transaction"):
                await add_to_outbox(conn, topic, Event(type="test.outbox.outside"))
            rows = await conn.fetch(
                "SELECT event_id, key, payload FROM event_outbox WHERE topic = $1", topic
            )
    finally:
        async with db.transaction() as conn:
            await conn.execute("DELETE FROM event_outbox WHERE topic = $1", topic)
    assert [r["event_id"] for r in rows] == [committed.event_id]
    assert Event.from_json(rows[0]["payload"]) == committed


async def test_a_failing_handler_is_retried_until_it_succeeds_once(
    backend: tuple[str, Settings], db: Database
) -> None:
    """``run()`` restarts the bus consumer after a failure, and the event comes back."""
    name, settings = backend
    run = uuid.uuid4().hex[:12]
    topic, group, effects = f"test.retry.{run}", f"retry-test-{run}", f"events_test_retry_{run}"
    async with db.transaction() as conn:
        await conn.execute(f"CREATE TABLE {effects} (n int NOT NULL)")
    if name == "kafka":
        await ensure_topics(settings.kafka, [topic], num_partitions=1, replication_factor=1)
    bus = open_bus(name, settings)
    await bus.start()
    failures = 0

    async def flaky(conn: asyncpg.Connection, event: Event) -> None:
        nonlocal failures
        await conn.execute(f"INSERT INTO {effects} (n) VALUES ($1)", event.data["n"])
        if event.data["n"] == 3 and failures < 2:
            failures += 1
            raise RuntimeError("handler failed")  # rolls back its row and its dedupe row

    stop = asyncio.Event()
    consumer = IdempotentConsumer(bus, db, topic, group, flaky, retry_backoff_s=0.1)
    running = asyncio.create_task(consumer.run(stop))
    try:
        for n in range(6):
            await bus.publish(topic, Event(type="test.retry", data={"n": n}))
        await wait_until("6 side effects", lambda: _reached(db, effects, 6), timeout_s=60)
        await asyncio.sleep(0.5)
        async with db.transaction() as conn:
            rows = await conn.fetch(f"SELECT n FROM {effects} ORDER BY n")
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await bus.stop()
        await _clean(db, settings, name, topic, group, effects)
    assert failures == 2
    assert [r["n"] for r in rows] == list(range(6))


async def _reached(db: Database, table: str, expected: int) -> bool:
    return await count(db, table) >= expected


async def _clean(
    db: Database, settings: Settings, backend: str, topic: str, group: str, *tables: str
) -> None:
    async with db.transaction() as conn:
        for table in tables:
            await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.execute("DELETE FROM event_outbox WHERE topic = $1", topic)
        await conn.execute("DELETE FROM processed_events WHERE consumer = $1", group)
    if backend == "redis-streams":
        client = connect_redis(secret(settings.redis_app.url), settings.redis_app)
        try:
            await client.delete(stream_key(topic))
        finally:
            await client.aclose()
    else:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
        await admin.start()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="The consumer process of this test.")
    parser.add_argument("--backend", choices=sorted(NEEDS), required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--effects", required=True)
    parser.add_argument("--hang-at", type=int, default=0)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(consume(parser.parse_args()))


if __name__ == "__main__":
    main()
