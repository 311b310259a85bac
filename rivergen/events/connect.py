"""Choose the event bus from settings: Kafka when configured, else the embedded bus."""

from __future__ import annotations

from rivergen.errors import ConfigurationError
from rivergen.events.bus import EventBus
from rivergen.events.kafka import KafkaEventBus
from rivergen.events.redis_streams import RedisStreamsEventBus
from rivergen.settings import Settings


def connect_event_bus(settings: Settings, redis_url: str | None = None) -> EventBus:
    """The process's event bus, not started yet (call ``start()``; ``stop()`` at exit).

    Kafka when ``settings.kafka.bootstrap_servers`` is set; otherwise Redis Streams on the
    Redis App server at ``redis_url`` (the caller resolves it, embedded or configured).
    """
    if settings.kafka.bootstrap_servers:
        return KafkaEventBus(settings.kafka, startup_timeout_s=settings.startup_timeout_s)
    if not redis_url:
        raise ConfigurationError(
            "no event bus: set RIVERGEN_KAFKA__BOOTSTRAP_SERVERS, or give the Redis App URL "
            "for the embedded bus"
        )
    return RedisStreamsEventBus(
        redis_url, settings.redis_app, startup_timeout_s=settings.startup_timeout_s
    )
