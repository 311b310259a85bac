"""Events: one envelope, a bus port with two adapters, the outbox, exactly-once consumers.

- :class:`Event` and :class:`Topic`: the envelope and the topic names.
- :class:`EventBus` / :class:`EventConsumer`: the port; :func:`connect_event_bus` picks Kafka
  (:class:`KafkaEventBus`) or the embedded Redis Streams bus (:class:`RedisStreamsEventBus`).
- :func:`add_to_outbox` (:func:`add_all_to_outbox` for several) and :class:`OutboxRelay`: state
  change and event in one transaction.
- :class:`IdempotentConsumer`: a side effect once per event, however often it is delivered.
"""

from rivergen.events.bus import (
    EventBus,
    EventConsumer,
    OutgoingEvent,
    ReceivedEvent,
    ensure_platform_topics,
)
from rivergen.events.connect import connect_event_bus
from rivergen.events.consumer import BatchOutcome, EventHandler, IdempotentConsumer
from rivergen.events.envelope import ALL_TOPICS, Event, Topic
from rivergen.events.kafka import KafkaEventBus, check_kafka_reachable, ensure_topics
from rivergen.events.outbox import OutboxRelay, Queued, add_all_to_outbox, add_to_outbox
from rivergen.events.redis_streams import RedisStreamsEventBus, stream_key

__all__ = [
    "ALL_TOPICS",
    "BatchOutcome",
    "Event",
    "EventBus",
    "EventConsumer",
    "EventHandler",
    "IdempotentConsumer",
    "KafkaEventBus",
    "OutboxRelay",
    "OutgoingEvent",
    "Queued",
    "ReceivedEvent",
    "RedisStreamsEventBus",
    "Topic",
    "add_all_to_outbox",
    "add_to_outbox",
    "check_kafka_reachable",
    "connect_event_bus",
    "ensure_platform_topics",
    "ensure_topics",
    "stream_key",
]
