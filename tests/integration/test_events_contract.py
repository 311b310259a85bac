"""One contract for both event bus adapters (Kafka, and the embedded Redis Streams bus).

Against the real servers of `scripts/services up`; each test uses its own topics and groups, so
tests do not see each other and reruns start clean.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from rivergen.cache import connect_redis
from rivergen.errors import ConfigurationError
from rivergen.events import (
    ALL_TOPICS,
    Event,
    EventBus,
    EventConsumer,
    KafkaEventBus,
    OutgoingEvent,
    ReceivedEvent,
    RedisStreamsEventBus,
    check_kafka_reachable,
    connect_event_bus,
    ensure_platform_topics,
    ensure_topics,
    stream_key,
)
from rivergen.settings import KafkaSettings, Settings, load_settings

pytestmark = pytest.mark.integration

ENV_OF = {
    "kafka": "RIVERGEN_KAFKA__BOOTSTRAP_SERVERS",
    "redis-streams": "RIVERGEN_REDIS_APP__URL",
}


def settings_for(adapter: str) -> Settings:
    variable = ENV_OF[adapter]
    if not os.environ.get(variable):
        pytest.fail(
            f"{variable} is not set: start the services with `scripts/services up` and export "
            'them with `eval "$(scripts/services env)"`'
        )
    return load_settings()


@dataclass
class BusUnderTest:
    """A started bus, and the topics and stream keys to remove after the test."""

    adapter: str
    settings: Settings
    bus: EventBus
    topics: list[str] = field(default_factory=list)

    async def new_topic(self) -> str:
        topic = f"test.contract.{uuid.uuid4().hex[:12]}"
        if self.adapter == "kafka":
            # Three partitions: ordering is only promised per key, so test exactly that.
            await ensure_topics(
                self.settings.kafka, [topic], num_partitions=3, replication_factor=1
            )
        self.topics.append(topic)
        return topic

    def consumer(self, topic: str, group: str, name: str = "member-1") -> EventConsumer:
        return self.bus.consumer(topic, group, name=name)


def open_bus(adapter: str, settings: Settings) -> EventBus:
    if adapter == "kafka":
        # The broker's minimum session timeout, so a restarted group settles quickly.
        return KafkaEventBus(settings.kafka, session_timeout_s=6.0)
    assert settings.redis_app.url is not None
    return RedisStreamsEventBus(settings.redis_app.url.get_secret_value(), settings.redis_app)


async def remove_topics(harness: BusUnderTest) -> None:
    if not harness.topics:
        return
    if harness.adapter == "kafka":
        admin = AIOKafkaAdminClient(bootstrap_servers=harness.settings.kafka.bootstrap_servers)
        await admin.start()
        try:
            await admin.delete_topics(harness.topics)
        finally:
            await admin.close()
    else:
        url = harness.settings.redis_app.url
        assert url is not None
        client = connect_redis(url.get_secret_value(), harness.settings.redis_app)
        try:
            await client.delete(*(stream_key(t) for t in harness.topics))
        finally:
            await client.aclose()


@pytest.fixture(params=["kafka", "redis-streams"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[BusUnderTest]:
    adapter: str = request.param
    settings = settings_for(adapter)
    bus = open_bus(adapter, settings)
    await bus.start()
    under_test = BusUnderTest(adapter, settings, bus)
    try:
        yield under_test
    finally:
        await bus.stop()
        await remove_topics(under_test)


async def collect(
    consumer: EventConsumer, count: int, timeout_s: float = 30.0
) -> list[ReceivedEvent]:
    """Fetch until ``count`` events came (fails after ``timeout_s``)."""
    received: list[ReceivedEvent] = []
    deadline = time.monotonic() + timeout_s
    while len(received) < count:
        assert time.monotonic() < deadline, (
            f"got {len(received)} of {count} events in {timeout_s} s"
        )
        received += await consumer.getmany(max_records=count - len(received), timeout_s=0.5)
    return received


async def fetch_for(consumer: EventConsumer, seconds: float) -> list[ReceivedEvent]:
    """Everything that arrives within ``seconds``."""
    received: list[ReceivedEvent] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        received += await consumer.getmany(timeout_s=0.3)
    return received


def ids(events: Iterable[ReceivedEvent]) -> set[uuid.UUID]:
    return {r.event.event_id for r in events}


async def test_events_arrive_in_order_per_key_with_the_same_envelope(harness: BusUnderTest) -> None:
    topic = await harness.new_topic()
    workspaces = [uuid.uuid4() for _ in range(4)]
    sent = [
        Event(type="test.sequence", workspace_id=workspaces[i % 4], actor="tester", data={"seq": i})
        for i in range(60)
    ]
    # Both ways to publish: a batch, then one at a time.
    await harness.bus.publish_many([OutgoingEvent(topic, e) for e in sent[:40]])
    for event in sent[40:]:
        await harness.bus.publish(topic, event)

    consumer = harness.consumer(topic, f"group-{uuid.uuid4().hex}")
    await consumer.start()
    try:
        received = await collect(consumer, len(sent))
        await consumer.commit()
    finally:
        await consumer.stop()

    assert {r.topic for r in received} == {topic}
    assert sorted((r.event for r in received), key=lambda e: e.data["seq"]) == sent
    for workspace in workspaces:
        seqs = [r.event.data["seq"] for r in received if r.event.workspace_id == workspace]
        assert seqs == sorted(seqs) and len(seqs) == 15
    assert len({r.position for r in received}) == len(sent)


async def test_uncommitted_events_come_back_after_a_restart_and_committed_ones_do_not(
    harness: BusUnderTest,
) -> None:
    topic = await harness.new_topic()
    group = f"group-{uuid.uuid4().hex}"
    sent = [
        Event(type="test.redelivery", workspace_id=uuid.uuid4(), data={"n": i}) for i in range(10)
    ]
    await harness.bus.publish_many([OutgoingEvent(topic, e) for e in sent])

    first = harness.consumer(topic, group)
    await first.start()
    try:
        committed = await collect(first, 1)
        await first.commit()
        uncommitted = await collect(first, len(sent) - len(committed))
    finally:
        await first.stop()  # no commit: the rest was fetched but not processed
    assert ids(committed) | ids(uncommitted) == {e.event_id for e in sent}

    again = harness.consumer(topic, group)
    await again.start()
    try:
        redelivered = await collect(again, len(uncommitted))
        redelivered += await fetch_for(again, 1.0)
        await again.commit()
    finally:
        await again.stop()
    assert ids(redelivered) == ids(uncommitted)
    assert not ids(redelivered) & ids(committed)
    by_id = {e.event_id: e for e in sent}
    assert all(r.event == by_id[r.event.event_id] for r in redelivered)

    # Everything is committed now: a new start sees only what is published next.
    marker = Event(type="test.marker")
    third = harness.consumer(topic, group)
    await third.start()
    try:
        await harness.bus.publish(topic, marker)
        received = await collect(third, 1)
        received += await fetch_for(third, 0.5)
    finally:
        await third.stop()
    assert ids(received) == {marker.event_id}


async def test_groups_are_independent(harness: BusUnderTest) -> None:
    topic = await harness.new_topic()
    sent = [Event(type="test.fanout", data={"n": i}) for i in range(5)]
    await harness.bus.publish_many([OutgoingEvent(topic, e) for e in sent])

    for group in (f"a-{uuid.uuid4().hex}", f"b-{uuid.uuid4().hex}"):
        consumer = harness.consumer(topic, group)
        await consumer.start()
        try:
            assert ids(await collect(consumer, len(sent))) == {e.event_id for e in sent}
            await consumer.commit()
        finally:
            await consumer.stop()


async def test_platform_topics_can_be_ensured_repeatedly(harness: BusUnderTest) -> None:
    await ensure_platform_topics(harness.bus)
    await ensure_platform_topics(harness.bus)

    if harness.adapter == "kafka":
        admin = AIOKafkaAdminClient(bootstrap_servers=harness.settings.kafka.bootstrap_servers)
        await admin.start()
        try:
            assert set(ALL_TOPICS) <= set(await admin.list_topics())
        finally:
            await admin.close()
    # Nothing is published to them here: other suites consume the platform topics.


async def test_ping_reports_a_latency(harness: BusUnderTest) -> None:
    latency_ms = await harness.bus.ping(timeout_s=5.0)
    assert 0.0 < latency_ms < 5000.0


async def test_redis_streams_hands_a_dead_members_entries_to_another_member() -> None:
    """Kafka rebalances a dead member's partitions; the embedded bus claims its entries."""
    settings = settings_for("redis-streams")
    assert settings.redis_app.url is not None
    bus = RedisStreamsEventBus(
        settings.redis_app.url.get_secret_value(), settings.redis_app, claim_idle_s=0.5
    )
    await bus.start()
    harness = BusUnderTest("redis-streams", settings, bus)
    try:
        topic = await harness.new_topic()
        group = f"group-{uuid.uuid4().hex}"
        sent = [Event(type="test.claim", data={"n": i}) for i in range(3)]
        await bus.publish_many([OutgoingEvent(topic, e) for e in sent])
        gone = harness.consumer(topic, group, name="gone-for-good")
        await gone.start()
        assert len(await collect(gone, len(sent))) == len(sent)
        await gone.stop()  # never commits and never comes back

        other = harness.consumer(topic, group, name="another")
        await other.start()
        claimed = await collect(other, len(sent), timeout_s=10.0)
        await other.commit()
        claimed += await fetch_for(other, 1.0)
        await other.stop()
        assert sorted(r.event.data["n"] for r in claimed) == [0, 1, 2]
    finally:
        await bus.stop()
        await remove_topics(harness)


# --- start-up and selection (no server needed) -------------------------------------------


async def test_unreachable_kafka_fails_fast_naming_kafka_and_its_address() -> None:
    settings = Settings(kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"))
    tasks_before = asyncio.all_tasks()

    start = time.monotonic()
    with pytest.raises(ConfigurationError, match=r"^kafka at 127\.0\.0\.1:1 is unreachable: "):
        await check_kafka_reachable(settings, timeout_s=5.0)
    with pytest.raises(ConfigurationError, match=r"^kafka at 127\.0\.0\.1:1 is unreachable: "):
        await KafkaEventBus(settings.kafka, startup_timeout_s=5.0).start()

    assert time.monotonic() - start < 10.0
    await asyncio.sleep(0)
    assert not asyncio.all_tasks() - tasks_before, "a failed check left tasks running"


async def test_a_kafka_that_never_answers_fails_within_the_deadline() -> None:
    """A port that accepts connections and says nothing: aiokafka would wait and retry."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = Settings(kafka=KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}"))
    tasks_before = asyncio.all_tasks()
    try:
        start = time.monotonic()
        with pytest.raises(
            ConfigurationError, match=rf"^kafka at 127\.0\.0\.1:{port} is unreachable"
        ):
            await check_kafka_reachable(settings, timeout_s=2.0)
        assert time.monotonic() - start < 3.0
        assert accepted, "the check never reached the port"
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    await asyncio.sleep(0.1)
    assert not asyncio.all_tasks() - tasks_before, "a failed check left tasks running"


async def test_unreachable_embedded_bus_fails_at_start() -> None:
    settings = Settings()
    bus = RedisStreamsEventBus("redis://127.0.0.1:1/0", settings.redis_app, startup_timeout_s=5.0)
    with pytest.raises(ConfigurationError, match=r"127\.0\.0\.1:1 is unreachable"):
        await bus.start()
    await bus.stop()


def test_kafka_is_chosen_when_configured_else_the_embedded_bus() -> None:
    kafka = connect_event_bus(Settings(kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9092")))
    no_kafka = Settings(kafka=KafkaSettings(bootstrap_servers=None))
    embedded = connect_event_bus(no_kafka, redis_url="redis://127.0.0.1:6379/0")

    assert isinstance(kafka, KafkaEventBus) and kafka.name == "kafka"
    assert isinstance(embedded, RedisStreamsEventBus) and embedded.name == "redis-streams"
    with pytest.raises(ConfigurationError):
        connect_event_bus(no_kafka)
