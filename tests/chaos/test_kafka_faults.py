"""The event path under faults, with the platform's billing metering as the side effect.

Usage events go through the transactional outbox, a relay publishes them to Kafka, and the
metering consumer (:class:`MeteringService`, group of the test's own) adds each to the
workspace's usage counter. Each event carries a different quantity, so a lost event and a
repeated one cannot hide each other in the sum.

- The broker is killed (SIGKILL) and started again while 1,000 actions are written: every
  outbox row is published and the counter is exactly the sum of the actions.
- The metering consumer (its own OS process) is killed after it committed some events' side
  effects in Postgres and before it committed their offsets on the bus: nothing is counted
  twice.

The consumer process is ``tests/integration/metering_process.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from rivergen.api import accounts
from rivergen.billing.metering import MeteringService
from rivergen.billing.metrics import USAGE_COMPUTE_USED
from rivergen.db import Database
from rivergen.events import Event, KafkaEventBus, OutboxRelay, add_to_outbox, ensure_topics
from rivergen.settings import Settings
from tests.chaos.conftest import SERVICES, eventually, services, services_sync
from tests.integration import metering_process
from tests.integration.api_client import register
from tests.integration.reporting_process import ReportingProcess
from tests.platform_app import create_app

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONSUMER = metering_process.__file__
ACTIONS = 1000
WRITERS = 8


# --- the tests ---------------------------------------------------------------------------


class BrokerRestart:
    """Starts the broker again in a process of its own, which a timeout does not cancel."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def begin(self) -> None:
        self.process = subprocess.Popen(
            [str(SERVICES), "start", "kafka"],
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def finished(self, timeout_s: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while self.process.poll() is None:
            assert time.monotonic() < deadline, f"kafka did not start within {timeout_s} s"
            await asyncio.sleep(0.2)
        assert self.process.returncode == 0, "scripts/services start kafka failed"


@pytest.fixture
def broker_restart() -> Iterator[BrokerRestart]:
    """Whatever happens to the test (a timeout included), the broker is up again after it."""
    restart = BrokerRestart()
    yield restart
    if restart.process is not None and restart.process.poll() is None:
        restart.process.wait(120)
    services_sync("start", "kafka")


@pytest.fixture(scope="module")
async def workspace(migrated: Settings) -> str:
    """A workspace with an organization (usage counts per organization and workspace)."""
    app = create_app(migrated, routers=(accounts.router,))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            return (await register(http, "metered")).workspace_id


def seconds_of(n: int) -> Decimal:
    return Decimal(n + 1) / 1000


def actions_table(topic: str) -> str:
    return "chaos_actions_" + topic.rsplit(".", 1)[-1]


async def write_actions(
    db: Database, topic: str, workspace: str, count: int, written: list[int], pause_s: float = 0.0
) -> None:
    """``count`` actions, each a state change and its usage event in one transaction."""

    async def writer(first: int) -> None:
        for n in range(first, count, WRITERS):
            async with db.transaction() as conn:
                await conn.execute(f"INSERT INTO {actions_table(topic)} (n) VALUES ($1)", n)
                await add_to_outbox(
                    conn,
                    topic,
                    Event(
                        type=USAGE_COMPUTE_USED,
                        workspace_id=uuid.UUID(workspace),
                        data={"seconds": str(seconds_of(n)), "n": n},
                    ),
                )
            written.append(n)
            if pause_s:
                await asyncio.sleep(pause_s)

    await asyncio.gather(*(writer(i) for i in range(WRITERS)))


async def metered(db: Database, workspace: str) -> Decimal:
    async with db.transaction() as conn:
        total = await conn.fetchval(
            "SELECT coalesce(sum(quantity), 0) FROM usage_counters"
            " WHERE workspace_id = $1::uuid AND metric = 'compute_seconds'",
            workspace,
        )
    return Decimal(total)


async def outcome(db: Database, topic: str, group: str) -> tuple[int, int]:
    """(unpublished outbox rows of ``topic``, events ``group`` processed)."""
    async with db.transaction() as conn:
        unpublished = await conn.fetchval(
            "SELECT count(*) FROM event_outbox WHERE topic = $1 AND published_at IS NULL", topic
        )
        processed = await conn.fetchval(
            "SELECT count(*) FROM processed_events WHERE consumer = $1", group
        )
    return int(unpublished), int(processed)


@contextlib.asynccontextmanager
async def fresh_workspace_counters(
    db: Database, workspace: str, topic: str, group: str
) -> AsyncIterator[None]:
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM usage_counters WHERE workspace_id = $1::uuid", workspace)
        await conn.execute(f"CREATE TABLE {actions_table(topic)} (n int NOT NULL)")
    try:
        yield
    finally:
        async with db.transaction() as conn:
            await conn.execute(f"DROP TABLE {actions_table(topic)}")
            await conn.execute("DELETE FROM event_outbox WHERE topic = $1", topic)
            await conn.execute("DELETE FROM processed_events WHERE consumer = $1", group)


async def kafka_pid() -> int:
    found = re.search(r"^kafka\s.*\bpid (\d+)", await services("status", "kafka"), re.M)
    assert found, "the Kafka broker was not started by scripts/services: cannot kill it"
    return int(found[1])


@pytest.mark.timeout(60, func_only=True)
async def test_kafka_killed_and_restarted_during_a_thousand_actions(
    migrated: Settings, db: Database, workspace: str, broker_restart: BrokerRestart
) -> None:
    run = uuid.uuid4().hex[:10]
    topic, group = f"chaos.usage.{run}", f"chaos-metering-{run}"
    await ensure_topics(migrated.kafka, [topic], num_partitions=3, replication_factor=1)
    expected = sum((seconds_of(n) for n in range(ACTIONS)), Decimal(0))
    bus = KafkaEventBus(migrated.kafka, session_timeout_s=6.0)
    await bus.start()
    relays = [
        OutboxRelay(
            db, bus, topics=[topic], batch_size=100, poll_interval_s=0.05, max_backoff_s=1.0
        )
        for _ in range(2)
    ]
    meter = MeteringService(db, bus, topics=[topic], group_id=group, max_records=100)
    stop = asyncio.Event()
    written: list[int] = []
    async with fresh_workspace_counters(db, workspace, topic, group):
        started = time.monotonic()
        for relay in relays:
            relay.start()
        metering = asyncio.create_task(meter.run(stop))
        try:
            writing = asyncio.create_task(
                write_actions(db, topic, workspace, ACTIONS, written, pause_s=0.02)
            )
            await eventually("300 actions written", _at_least(written, 300), 20)
            os.kill(await kafka_pid(), signal.SIGKILL)
            killed_at = time.monotonic()
            broker_restart.begin()
            await broker_restart.finished(timeout_s=50)
            back_at = time.monotonic()
            await asyncio.wait_for(writing, 30)
            await eventually("all published", _published(db, topic), 25, every_s=0.2)
            published_at = time.monotonic()
            wait = await eventually(
                "every action metered", _metered(db, workspace, expected), 25, every_s=0.2
            )
            await asyncio.sleep(0.5)  # a late redelivery would show as a larger sum
        finally:
            stop.set()
            await asyncio.wait_for(metering, 15)
            for relay in relays:
                await relay.stop()
            await meter.close()
            await bus.stop()
        unpublished, processed = await outcome(db, topic, group)
        total = await metered(db, workspace)
    assert len(written) == ACTIONS
    assert unpublished == 0
    assert processed == ACTIONS
    assert total == expected
    print(
        f"{ACTIONS} actions through a broker kill: down {back_at - killed_at:.1f} s, "
        f"all published {published_at - back_at:.1f} s after it was back, "
        f"all "
        f"published and metered exactly once {wait:.1f} s after the writes; "
        f"{time.monotonic() - started:.1f} s in all"
    )


@pytest.mark.timeout(60, func_only=True)
async def test_a_consumer_killed_between_its_effect_and_its_commit_repeats_nothing(
    migrated: Settings, db: Database, workspace: str, tmp_path: Path
) -> None:
    events = 400
    run = uuid.uuid4().hex[:10]
    topic, group = f"chaos.usage.{run}", f"chaos-metering-{run}"
    await ensure_topics(migrated.kafka, [topic], num_partitions=3, replication_factor=1)
    expected = sum((seconds_of(n) for n in range(events)), Decimal(0))
    bus = KafkaEventBus(migrated.kafka)
    await bus.start()
    relay = OutboxRelay(db, bus, topics=[topic], batch_size=100, poll_interval_s=0.05)
    args = ["--topics", topic, "--group", group]
    runs: list[ReportingProcess] = []
    async with fresh_workspace_counters(db, workspace, topic, group):
        started = time.monotonic()
        relay.start()
        try:
            await write_actions(db, topic, workspace, events, [])
            runs.append(
                await ReportingProcess.spawn(
                    CONSUMER, [*args, "--hang-at", "120"], tmp_path / "consumer.stderr"
                )
            )
            hanging = (await runs[-1].first_report("hanging", 30))["hanging"]
            counted_before_kill = await metered(db, workspace)
            await runs[-1].kill()
            # The hung event rolled back; the ones before it in its batch are counted.
            assert 0 < counted_before_kill < expected
            runs.append(await ReportingProcess.spawn(CONSUMER, args, tmp_path / "consumer.stderr"))
            await runs[-1].first_report("started", 30)
            await eventually("every event metered", _metered(db, workspace, expected), 30, 0.2)
            await asyncio.sleep(0.5)
        finally:
            for process in runs:
                await process.kill()
            await relay.stop()
            await bus.stop()
        unpublished, processed = await outcome(db, topic, group)
        total = await metered(db, workspace)
    assert unpublished == 0 and processed == events
    assert total == expected
    # The kill did leave counted-but-uncommitted events, and they came back as duplicates.
    assert runs[-1].total("duplicates") > 0
    print(
        f"consumer killed at its event {hanging} (side effect committed, offset not): "
        f"{runs[-1].total('duplicates')} redeliveries skipped, {events} events counted once, "
        f"{time.monotonic() - started:.1f} s"
    )


def _at_least(items: list[Any], count: int) -> Any:
    async def check() -> bool:
        return len(items) >= count

    return check


def _published(db: Database, topic: str) -> Any:
    async def check() -> bool:
        async with db.transaction() as conn:
            left = await conn.fetchval(
                "SELECT count(*) FROM event_outbox WHERE topic = $1 AND published_at IS NULL",
                topic,
            )
        return int(left) == 0

    return check


def _metered(db: Database, workspace: str, expected: Decimal) -> Any:
    async def check() -> bool:
        return await metered(db, workspace) >= expected

    return check
