"""The event bus port: publish with the broker's ack, consume at least once.

Two adapters implement it: :class:`~rivergen.events.kafka.KafkaEventBus` (production) and
:class:`~rivergen.events.redis_streams.RedisStreamsEventBus` (the embedded bus). Both carry the
same :class:`~rivergen.events.envelope.Event` on the same topic names, and both give:

- ordering per key (the workspace id by default) on one topic;
- at-least-once delivery: a consumer's :meth:`EventConsumer.commit` marks everything its
  fetches returned so far as done; what was fetched but not committed is delivered again to
  the group after the consumer restarts (or, after it died, to another member).

Exactly-once *effects* are built on top by :mod:`rivergen.events.consumer`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from rivergen.events.envelope import ALL_TOPICS, Event


class OutgoingEvent(NamedTuple):
    """One event to publish; ``key`` None means the event's own key (its workspace)."""

    topic: str
    event: Event
    key: str | None = None


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    """One event as a consumer received it.

    ``position`` is opaque and only meaningful to the adapter that produced it (for logs and
    tests): ``partition:offset`` on Kafka, the stream entry id on Redis Streams.
    """

    topic: str
    event: Event
    position: str


class EventConsumer(Protocol):
    """One member of a consumer group; commit after processing."""

    async def start(self) -> None:
        """Join the group (creating what the bus needs for it)."""
        ...

    async def stop(self) -> None:
        """Leave the group without committing; safe to call twice or before start."""
        ...

    async def getmany(
        self, *, max_records: int = 100, timeout_s: float = 1.0
    ) -> list[ReceivedEvent]:
        """Up to ``max_records`` events, waiting at most about ``timeout_s`` for the first.

        Events of one topic and key come in the order they were published.
        """
        ...

    async def commit(self) -> None:
        """Mark every event returned by :meth:`getmany` so far as processed."""
        ...


class EventBus(Protocol):
    """Publish events and create consumers; one per process, opened at start-up."""

    @property
    def name(self) -> str:
        """Which adapter this is (``kafka`` or ``redis-streams``), for /readyz and logs."""
        ...

    async def start(self) -> None:
        """Connect; raises ``ConfigurationError`` if the bus cannot be reached in time."""
        ...

    async def stop(self) -> None:
        """Flush and disconnect; safe to call twice or after a failed start."""
        ...

    async def ensure_topics(self, topics: Iterable[str]) -> None:
        """Create the topics that do not exist yet; works before ``start()``."""
        ...

    async def publish(self, topic: str, event: Event, *, key: str | None = None) -> None:
        """Publish one event and return once the broker has acknowledged it."""
        ...

    async def publish_many(self, events: Sequence[OutgoingEvent]) -> None:
        """Publish in the given order (kept per topic and key); return once all are acked."""
        ...

    async def ping(self, timeout_s: float) -> float:
        """One round trip to the broker; the latency in milliseconds."""
        ...

    def consumer(
        self, topics: str | Sequence[str], group_id: str, *, name: str | None = None
    ) -> EventConsumer:
        """A consumer in ``group_id`` (not started). A new group starts at the earliest event.

        ``name`` identifies this member across restarts where the bus needs it (Redis Streams
        hands a restarted member its own unacknowledged entries first).
        """
        ...


def topic_list(topics: str | Sequence[str]) -> list[str]:
    """One topic or several, as a non-empty list."""
    found = [topics] if isinstance(topics, str) else list(topics)
    if not found:
        raise ValueError("a consumer needs at least one topic")
    return found


async def ensure_platform_topics(bus: EventBus) -> None:
    """Create every platform topic (:data:`~rivergen.events.envelope.ALL_TOPICS`)."""
    await bus.ensure_topics(ALL_TOPICS)
