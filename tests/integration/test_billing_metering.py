"""Acceptance: usage equals the exact sum of the metered events after the metering consumer
is killed and restarted mid-stream.

500 events go to Kafka while the metering consumer (:class:`MeteringService`, in another OS
process) meters them: compute seconds with decimal fractions, storage deltas of both signs,
request counts, spread over two workspaces of one organization and two months, plus events
that must not count (other types, malformed payloads). The consumer is SIGKILLed twice
mid-stream: once right after some events' counters committed in Postgres but before their
offsets were committed on Kafka, once at an arbitrary moment; then it runs to the end. Every
counter equals the exact decimal sum of its events.

Run as a script, this file is that consumer process (see ``consume``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from rivergen.billing import (
    USAGE_COMPUTE_USED,
    USAGE_REQUEST,
    USAGE_STORAGE_CHANGED,
    Metric,
)
from rivergen.db import Database
from rivergen.events import Event, KafkaEventBus, OutgoingEvent, ensure_topics
from rivergen.settings import Settings
from tests.integration import metering_process
from tests.integration.reporting_process import ReportingProcess, tail

METERING_PROCESS = metering_process.__file__

pytestmark = pytest.mark.integration

EVENTS = 500
WAIT_S = 90.0
# Compute seconds whose float sums are not exact: 0.1 + 0.2 and friends.
SECONDS = (0.1, 0.2, 0.3, 1.5, 2.25, 0.07, 3600.7, 12.0)
JANUARY, FEBRUARY = date(2025, 1, 1), date(2025, 2, 1)
MOMENTS = {
    JANUARY: datetime(2025, 1, 31, 23, 59, 59, 999999, tzinfo=UTC),
    FEBRUARY: datetime(2025, 2, 1, 0, 0, 0, tzinfo=UTC),
}


# --- the test ----------------------------------------------------------------------------


@dataclass
class Tenancy:
    organization: uuid.UUID
    workspaces: list[uuid.UUID]


@pytest.fixture
async def tenancy(db: Database) -> AsyncIterator[Tenancy]:
    """A new organization (standard plan) with two workspaces; removed with its usage."""
    run = uuid.uuid4().hex[:8]
    async with db.transaction() as conn:
        org = await conn.fetchval(
            "INSERT INTO organizations (name, plan) VALUES ($1, 'standard') RETURNING id",
            f"billing-test-{run}",
        )
        workspaces = [
            await conn.fetchval(
                "INSERT INTO workspaces (name, organization_id) VALUES ($1, $2) RETURNING id",
                f"billing-test-{run}-{i}",
                org,
            )
            for i in range(2)
        ]
    yield Tenancy(org, workspaces)
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM workspaces WHERE id = ANY($1::uuid[])", workspaces)
        await conn.execute("DELETE FROM organizations WHERE id = $1", org)


def usage_events(
    tenancy: Tenancy, storage_topic: str, jobs_topic: str
) -> tuple[list[OutgoingEvent], dict[tuple[uuid.UUID, str, date], Decimal]]:
    """EVENTS events and the exact counters they must add up to."""
    events: list[OutgoingEvent] = []
    expected: dict[tuple[uuid.UUID, str, date], Decimal] = defaultdict(Decimal)
    for n in range(EVENTS):
        workspace = tenancy.workspaces[n % 2]
        period = JANUARY if n % 5 == 0 else FEBRUARY
        kind = n % 10
        if kind in (0, 1, 2, 3):
            seconds = SECONDS[n % len(SECONDS)]
            topic, type_, data = jobs_topic, USAGE_COMPUTE_USED, {"seconds": seconds}
            expected[(workspace, Metric.COMPUTE_SECONDS, period)] += Decimal(str(seconds))
        elif kind in (4, 5, 6):
            delta = (n * 7919) % 100_000 - (30_000 if kind == 6 else 0)
            topic, type_, data = storage_topic, USAGE_STORAGE_CHANGED, {"bytes_delta": delta}
            expected[(workspace, Metric.STORAGE_BYTES, period)] += delta
        elif kind in (7, 8):
            topic, type_, data = jobs_topic, USAGE_REQUEST, {"count": n % 13 + 1}
            expected[(workspace, Metric.REQUESTS, period)] += n % 13 + 1
        elif n % 20 == 9:  # not a usage event, though it looks like one
            topic, type_, data = storage_topic, "storage.file.created", {"bytes_delta": 10**9}
        else:  # a usage event with a payload no one can meter
            topic, type_, data = jobs_topic, USAGE_COMPUTE_USED, {"seconds": -1}
        event = Event(type=type_, workspace_id=workspace, occurred_at=MOMENTS[period], data=data)
        events.append(OutgoingEvent(topic, event))
    return events, dict(expected)


async def counters(db: Database, tenancy: Tenancy) -> dict[tuple[uuid.UUID, str, date], Decimal]:
    async with db.transaction() as conn:
        rows = await conn.fetch(
            "SELECT workspace_id, metric, period, quantity FROM usage_counters "
            "WHERE organization_id = $1",
            tenancy.organization,
        )
    return {(r["workspace_id"], r["metric"], r["period"]): r["quantity"] for r in rows}


async def processed(db: Database, group: str) -> int:
    async with db.transaction() as conn:
        return int(
            await conn.fetchval("SELECT count(*) FROM processed_events WHERE consumer = $1", group)
        )


async def publish_in_waves(bus: KafkaEventBus, events: list[OutgoingEvent]) -> None:
    """The stream keeps coming while the meter is killed and restarted."""
    for start in range(0, len(events), 50):
        await bus.publish_many(events[start : start + 50])
        await asyncio.sleep(0.3)


async def test_usage_equals_the_events_after_the_meter_is_killed_mid_stream(
    migrated: Settings, db: Database, tenancy: Tenancy, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:12]
    storage_topic, jobs_topic = f"test.billing.storage.{run}", f"test.billing.jobs.{run}"
    group = f"billing-metering-test-{run}"
    stderr_path = tmp_path / "meter.stderr"
    await ensure_topics(
        migrated.kafka, [storage_topic, jobs_topic], num_partitions=3, replication_factor=1
    )
    events, expected = usage_events(tenancy, storage_topic, jobs_topic)
    bus = KafkaEventBus(migrated.kafka)
    await bus.start()
    meter_args = ["--topics", storage_topic, jobs_topic, "--group", group]
    runs: list[ReportingProcess] = []
    started = time.monotonic()
    try:
        publishing = asyncio.create_task(publish_in_waves(bus, events))

        # Crash 1: counters of some events committed in Postgres, their offsets not on Kafka.
        runs.append(
            await ReportingProcess.spawn(
                METERING_PROCESS, [*meter_args, "--hang-at", "120"], stderr_path
            )
        )
        await runs[-1].wait_until("the hang", lambda p: p.total("hanging") > 0, WAIT_S)
        await runs[-1].kill()
        after_first = await processed(db, group)
        assert 0 < after_first < EVENTS

        # Crash 2: anywhere, once the restarted meter has made progress of its own.
        runs.append(await ReportingProcess.spawn(METERING_PROCESS, meter_args, stderr_path))
        await runs[-1].wait_until("progress", lambda p: p.total("handled") >= 60, WAIT_S)
        await runs[-1].kill()
        assert await processed(db, group) < EVENTS

        runs.append(await ReportingProcess.spawn(METERING_PROCESS, meter_args, stderr_path))
        await asyncio.wait_for(publishing, WAIT_S)
        deadline = time.monotonic() + WAIT_S
        while await processed(db, group) < EVENTS:
            assert time.monotonic() < deadline, f"meter stuck; stderr:\n{tail(stderr_path)}"
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # anything redelivered late would show up now
        elapsed = time.monotonic() - started
        actual = await counters(db, tenancy)
    finally:
        for process in runs:
            await process.kill()
        await bus.stop()
        await _clean(db, migrated, group, [storage_topic, jobs_topic], tenancy)

    assert actual == expected
    redelivered = sum(p.total("duplicates") for p in runs)
    assert redelivered > 0, "the crashes caused no redelivery: the test proved nothing"
    compute_feb = sum(
        v for (_, m, p), v in expected.items() if m == Metric.COMPUTE_SECONDS and p == FEBRUARY
    )
    print(
        f"{EVENTS} events metered exactly through 2 kills in {elapsed:.1f} s; "
        f"{redelivered} redeliveries skipped; February compute {compute_feb} s"
    )


async def _clean(
    db: Database, settings: Settings, group: str, topics: list[str], tenancy: Tenancy
) -> None:
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM processed_events WHERE consumer = $1", group)
        await conn.execute(
            "DELETE FROM usage_counters WHERE organization_id = $1", tenancy.organization
        )
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()
