"""The Kafka adapter of the event bus (aiokafka).

aiokafka's defaults are unsafe for at-least-once, so this module always sets:

- producer: ``enable_idempotence=True`` (which means ``acks="all"``), so a retried send is
  written once and in order; the key is the workspace id, so one workspace keeps its order;
- consumer: ``enable_auto_commit=False`` and ``auto_offset_reset="earliest"``: offsets are
  committed by the caller after processing, and a new group reads what was published before
  it joined.

aiokafka retries the bootstrap quietly, so every step that talks to the broker runs under a
deadline, and a failed start stops what it started. Vendor errors become
:class:`~rivergen.errors.DependencyUnavailable` (at run time) or
:class:`~rivergen.errors.ConfigurationError` (at start-up).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from rivergen.errors import ConfigurationError, DependencyUnavailable
from rivergen.events.bus import EventConsumer, OutgoingEvent, ReceivedEvent, topic_list
from rivergen.events.envelope import Event
from rivergen.settings import KafkaSettings, Settings

log = logging.getLogger(__name__)

KAFKA_UNAVAILABLE: tuple[type[BaseException], ...] = (KafkaError, OSError, TimeoutError)

_TOPIC_ALREADY_EXISTS = 36
# Shutting down flushes buffers; a dead broker must not hold a process's exit for long.
_STOP_TIMEOUT_S = 10.0


def _servers(settings: KafkaSettings) -> str:
    if not settings.bootstrap_servers:
        raise ConfigurationError("kafka is not configured (RIVERGEN_KAFKA__BOOTSTRAP_SERVERS)")
    return settings.bootstrap_servers


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


async def _probe(settings: KafkaSettings, timeout_s: float) -> None:
    """Fetch cluster metadata from a bootstrap server within ``timeout_s``.

    aiokafka's bootstrap tries each server in turn with up to three requests (connect, API
    versions, metadata), each bounded by ``request_timeout_ms``; sizing that below the
    deadline lets aiokafka close its own connections instead of being cancelled mid-request
    (a cancelled metadata request leaves its connection open). The outer deadline stays as a
    backstop.
    """
    servers = _servers(settings)
    hosts = max(1, len([s for s in servers.split(",") if s.strip()]))
    per_request_ms = max(100, int(timeout_s * 1000 / (3 * hosts)) - 50)
    client = AIOKafkaClient(
        bootstrap_servers=servers,
        client_id=f"{settings.client_id}-probe",
        request_timeout_ms=per_request_ms,
    )
    try:
        async with asyncio.timeout(timeout_s):
            await client.bootstrap()
    finally:
        await client.close()


async def check_kafka_reachable(settings: Settings, timeout_s: float | None = None) -> None:
    """Start-up check: raise ConfigurationError unless Kafka answers within the deadline.

    The deadline defaults to ``settings.startup_timeout_s``. Nothing is left running either
    way.
    """
    deadline = settings.startup_timeout_s if timeout_s is None else timeout_s
    await _check(settings.kafka, deadline)


async def _check(settings: KafkaSettings, timeout_s: float) -> None:
    servers = _servers(settings)
    try:
        await _probe(settings, timeout_s)
    except KAFKA_UNAVAILABLE as exc:
        raise ConfigurationError(
            f"kafka at {servers} is unreachable: {_reason(exc)}", code="kafka_unreachable"
        ) from exc


async def ensure_topics(
    settings: KafkaSettings,
    topics: Iterable[str],
    *,
    num_partitions: int = 3,
    replication_factor: int | None = None,
    timeout_s: float = 15.0,
) -> None:
    """Create the topics that do not exist yet (existing ones are left as they are).

    ``replication_factor`` None means three replicas, or one per broker on a smaller
    cluster (a single broker, for tests and one machine, gets 1).
    """
    wanted = list(dict.fromkeys(topics))
    if not wanted:
        return
    admin = AIOKafkaAdminClient(
        bootstrap_servers=_servers(settings),
        client_id=f"{settings.client_id}-admin",
        request_timeout_ms=int(settings.request_timeout_s * 1000),
    )
    try:
        async with asyncio.timeout(timeout_s):
            await admin.start()
            if replication_factor is None:
                brokers = len((await admin.describe_cluster())["brokers"])
                replication_factor = max(1, min(3, brokers))
            response = await admin.create_topics(
                [NewTopic(t, num_partitions, replication_factor) for t in wanted]
            )
    except KAFKA_UNAVAILABLE as exc:
        raise DependencyUnavailable(f"kafka: cannot create topics: {_reason(exc)}") from exc
    finally:
        await admin.close()
    failed = [
        f"{err[0]}: {err[2] if len(err) > 2 and err[2] else f'error code {err[1]}'}"
        for err in response.topic_errors
        if err[1] not in (0, _TOPIC_ALREADY_EXISTS)
    ]
    if failed:
        raise ConfigurationError(f"kafka refused to create topics: {'; '.join(failed)}")


class KafkaEventBus:
    """Publishes with an idempotent producer; creates consumers that commit manually."""

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        startup_timeout_s: float = 15.0,
        session_timeout_s: float = 10.0,
    ) -> None:
        self._settings = settings
        self._servers = _servers(settings)
        self._startup_timeout_s = startup_timeout_s
        self._session_timeout_s = session_timeout_s
        self._producer: AIOKafkaProducer | None = None

    @property
    def name(self) -> str:
        return "kafka"

    @property
    def _request_timeout_ms(self) -> int:
        return int(self._settings.request_timeout_s * 1000)

    async def start(self) -> None:
        if self._producer is not None:
            return
        await _check(self._settings, self._startup_timeout_s)
        producer = AIOKafkaProducer(
            bootstrap_servers=self._servers,
            client_id=self._settings.client_id,
            enable_idempotence=True,
            acks="all",
            request_timeout_ms=self._request_timeout_ms,
        )
        try:
            async with asyncio.timeout(self._startup_timeout_s):
                await producer.start()
        except BaseException as exc:
            await _stop_quietly(producer.stop())
            if isinstance(exc, KAFKA_UNAVAILABLE):
                raise ConfigurationError(
                    f"kafka at {self._servers} is unreachable: {_reason(exc)}",
                    code="kafka_unreachable",
                ) from exc
            raise
        self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await _stop_quietly(producer.stop())

    async def ensure_topics(self, topics: Iterable[str]) -> None:
        await ensure_topics(self._settings, topics, timeout_s=self._startup_timeout_s)

    def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise DependencyUnavailable("kafka: the event bus is not started")
        return self._producer

    async def publish(self, topic: str, event: Event, *, key: str | None = None) -> None:
        await self.publish_many([OutgoingEvent(topic, event, key)])

    async def publish_many(self, events: Sequence[OutgoingEvent]) -> None:
        producer = self._started()
        # send() only appends to the producer's buffer, in call order; the idempotent
        # producer keeps that order per partition through retries. Then wait for every ack.
        acks: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout(2 * self._settings.request_timeout_s + 1):
                for out in events:
                    key = out.key if out.key is not None else out.event.key
                    acks.append(
                        await producer.send(
                            out.topic,
                            value=out.event.to_json(),
                            key=key.encode() if key is not None else None,
                        )
                    )
                results = await asyncio.gather(*acks, return_exceptions=True)
        except KAFKA_UNAVAILABLE as exc:
            for ack in acks:
                ack.add_done_callback(_consume_outcome)
            raise DependencyUnavailable(f"kafka: publish failed: {_reason(exc)}") from exc
        for result in results:
            if isinstance(result, BaseException):
                raise DependencyUnavailable(f"kafka: publish failed: {_reason(result)}") from result

    async def ping(self, timeout_s: float) -> float:
        producer = self._started()
        start = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                await producer.client.fetch_all_metadata()
        except KAFKA_UNAVAILABLE as exc:
            raise DependencyUnavailable(f"kafka is unavailable: {_reason(exc)}") from exc
        return (time.perf_counter() - start) * 1000.0

    def consumer(
        self, topics: str | Sequence[str], group_id: str, *, name: str | None = None
    ) -> EventConsumer:
        client_id = f"{self._settings.client_id}-{name}" if name else self._settings.client_id
        session_ms = int(self._session_timeout_s * 1000)
        return KafkaEventConsumer(
            topic_list(topics),
            {
                "bootstrap_servers": self._servers,
                "group_id": group_id,
                "client_id": client_id,
                "enable_auto_commit": False,
                "auto_offset_reset": "earliest",
                "request_timeout_ms": self._request_timeout_ms,
                "session_timeout_ms": session_ms,
                "heartbeat_interval_ms": max(100, session_ms // 4),
            },
            self._startup_timeout_s,
        )


class KafkaEventConsumer:
    """A member of a Kafka consumer group that commits only when told to."""

    def __init__(self, topics: list[str], options: dict[str, Any], start_timeout_s: float):
        self._topics = topics
        self._options = options
        self._start_timeout_s = start_timeout_s
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        if self._consumer is not None:
            return
        consumer = AIOKafkaConsumer(*self._topics, **self._options)
        try:
            async with asyncio.timeout(self._start_timeout_s):
                await consumer.start()
        except BaseException as exc:
            await _stop_quietly(consumer.stop())
            if isinstance(exc, KAFKA_UNAVAILABLE):
                raise DependencyUnavailable(
                    f"kafka: consumer cannot start: {_reason(exc)}"
                ) from exc
            raise
        self._consumer = consumer

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await _stop_quietly(consumer.stop())

    def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("the consumer is not started")
        return self._consumer

    async def getmany(
        self, *, max_records: int = 100, timeout_s: float = 1.0
    ) -> list[ReceivedEvent]:
        consumer = self._started()
        try:
            batches = await consumer.getmany(
                timeout_ms=int(timeout_s * 1000), max_records=max_records
            )
        except KAFKA_UNAVAILABLE as exc:
            raise DependencyUnavailable(f"kafka: fetch failed: {_reason(exc)}") from exc
        received: list[ReceivedEvent] = []
        for partition, records in batches.items():
            for record in records:
                position = f"{partition.partition}:{record.offset}"
                try:
                    event = Event.from_json(record.value)
                except ValidationError as exc:
                    # Not an envelope: nothing can process it, so skip it (the next commit
                    # passes it) rather than block the partition forever.
                    log.error(
                        "skipping a malformed event at %s %s: %s", record.topic, position, exc
                    )
                    continue
                received.append(ReceivedEvent(record.topic, event, position))
        return received

    async def commit(self) -> None:
        consumer = self._started()
        try:
            await consumer.commit()
        except KAFKA_UNAVAILABLE as exc:
            raise DependencyUnavailable(f"kafka: commit failed: {_reason(exc)}") from exc


async def _stop_quietly(stopping: Any) -> None:
    """Await an aiokafka stop() within a deadline; a broker already gone is no error here."""
    try:
        async with asyncio.timeout(_STOP_TIMEOUT_S):
            await stopping
    except KAFKA_UNAVAILABLE as exc:
        log.warning("kafka client did not stop cleanly: %s", _reason(exc))


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    # An ack nobody awaits any more: retrieve its error so asyncio does not log it as lost.
    if not future.cancelled():
        future.exception()
