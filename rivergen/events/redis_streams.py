"""The embedded adapter of the event bus: Redis Streams on the Redis App server.

For one machine with no Kafka (``rivergen up`` with nothing configured). Same topics, same
envelope, same guarantees as the Kafka adapter:

- one stream per topic, ``rivergen:events:<topic>``; an entry holds the JSON envelope and
  its key. A stream is totally ordered, so per-key order holds as well;
- a consumer group per ``group_id``, created from id ``0`` with ``MKSTREAM``, so a new group
  reads what was published before it joined; ``commit()`` is ``XACK``;
- redelivery: what a member fetched but did not acknowledge stays in the group's pending list.
  A member that starts again under the same name reads its own pending entries first (id
  ``0``), then new ones (``>``); entries of a member that never comes back are claimed with
  ``XAUTOCLAIM`` once they have been idle for ``claim_idle_s``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import ResponseError

from rivergen.cache.redis import REDIS_UNAVAILABLE, connect_redis, ping_redis
from rivergen.errors import ConfigurationError, DependencyUnavailable
from rivergen.events.bus import EventConsumer, OutgoingEvent, ReceivedEvent, topic_list
from rivergen.events.envelope import Event
from rivergen.settings import RedisSettings

log = logging.getLogger(__name__)

STREAM_PREFIX = "rivergen:events:"


def stream_key(topic: str) -> str:
    """The Redis key of a topic's stream."""
    return f"{STREAM_PREFIX}{topic}"


def _address(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix" or not parts.hostname:
        return parts.path or "redis"
    return f"{parts.hostname}:{parts.port or 6379}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisStreamsEventBus:
    """Publishes with ``XADD`` (the reply is the ack); consumers use consumer groups."""

    def __init__(
        self,
        redis_url: str,
        settings: RedisSettings,
        *,
        startup_timeout_s: float = 15.0,
        maxlen: int | None = 1_000_000,
        claim_idle_s: float = 60.0,
    ) -> None:
        """``maxlen`` caps each stream (approximately, oldest entries go first); None keeps
        everything. Size it above what a consumer may lag behind."""
        self._url = redis_url
        self._settings = settings
        self._startup_timeout_s = startup_timeout_s
        self._maxlen = maxlen
        self._claim_idle_s = claim_idle_s
        self._client: aioredis.Redis | None = None

    @property
    def name(self) -> str:
        return "redis-streams"

    async def start(self) -> None:
        if self._client is not None:
            return
        client = connect_redis(self._url, self._settings)
        try:
            async with asyncio.timeout(self._startup_timeout_s):
                await client.ping()
        except REDIS_UNAVAILABLE as exc:
            await client.aclose()
            raise ConfigurationError(
                f"event bus (redis streams) at {_address(self._url)} is unreachable: {exc}",
                code="redis_app_unreachable",
            ) from exc
        self._client = client

    async def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def ensure_topics(self, topics: Iterable[str]) -> None:
        """Nothing to do: a stream exists from its first entry or consumer group."""

    def _started(self) -> aioredis.Redis:
        if self._client is None:
            raise DependencyUnavailable("redis streams: the event bus is not started")
        return self._client

    async def publish(self, topic: str, event: Event, *, key: str | None = None) -> None:
        await self.publish_many([OutgoingEvent(topic, event, key)])

    async def publish_many(self, events: Sequence[OutgoingEvent]) -> None:
        if not events:
            return
        client = self._started()
        # One pipeline, one connection: entries are appended in the given order.
        pipe = client.pipeline(transaction=False)
        for out in events:
            key = out.key if out.key is not None else out.event.key
            pipe.xadd(
                stream_key(out.topic),
                {"event": out.event.to_json(), "key": key or ""},
                maxlen=self._maxlen,
                approximate=True,
            )
        try:
            await pipe.execute()
        except REDIS_UNAVAILABLE as exc:
            raise DependencyUnavailable(f"redis streams: publish failed: {exc}") from exc

    async def ping(self, timeout_s: float) -> float:
        return await ping_redis(self._started(), timeout_s, "redis streams")

    def consumer(
        self, topics: str | Sequence[str], group_id: str, *, name: str | None = None
    ) -> EventConsumer:
        """``name`` defaults to this host and process; pass a stable one (per worker) so a
        restarted worker gets its own unacknowledged entries back at once."""
        return RedisStreamsConsumer(
            self._started(),
            topic_list(topics),
            group_id,
            name or f"{socket.gethostname()}-{os.getpid()}",
            block_limit_s=self._settings.socket_timeout_s / 2,
            claim_idle_s=self._claim_idle_s,
        )


class RedisStreamsConsumer:
    """A member of a Redis Streams consumer group that acknowledges only on commit."""

    def __init__(
        self,
        client: aioredis.Redis,
        topics: list[str],
        group_id: str,
        name: str,
        *,
        block_limit_s: float,
        claim_idle_s: float,
    ) -> None:
        self._client = client
        self._topics = {stream_key(t): t for t in topics}
        self._group = group_id
        self._name = name
        # A blocking read must return before the client's socket timeout fires.
        self._block_limit_s = block_limit_s
        self._claim_idle_ms = int(claim_idle_s * 1000)
        self._next_claim = 0.0
        self._pending_from: dict[str, str] = {}
        self._claim_from = dict.fromkeys(self._topics, "0-0")
        self._unacked: dict[str, list[str]] = {}
        self._started = False

    async def start(self) -> None:
        if self._started:
            return
        try:
            for key in self._topics:
                try:
                    await self._client.xgroup_create(key, self._group, id="0", mkstream=True)
                except ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise
        except REDIS_UNAVAILABLE as exc:
            raise DependencyUnavailable(f"redis streams: consumer cannot start: {exc}") from exc
        self._pending_from = dict.fromkeys(self._topics, "0")
        self._unacked = {key: [] for key in self._topics}
        self._started = True

    async def stop(self) -> None:
        # Unacknowledged entries stay pending in the group, for this name or a claimer.
        self._started = False
        self._unacked = {}

    async def getmany(
        self, *, max_records: int = 100, timeout_s: float = 1.0
    ) -> list[ReceivedEvent]:
        if not self._started:
            raise RuntimeError("the consumer is not started")
        per_stream = max(1, max_records // len(self._topics))
        try:
            if self._pending_from:
                received = await self._read_own_pending(per_stream)
                if received:
                    return received
            if time.monotonic() >= self._next_claim:
                received = await self._claim_abandoned(per_stream)
                if received:
                    return received
            streams: dict[Any, Any] = dict.fromkeys(self._topics, ">")
            reply = await self._client.xreadgroup(
                self._group,
                self._name,
                streams,
                count=per_stream,
                block=max(1, int(min(timeout_s, self._block_limit_s) * 1000)),
            )
        except REDIS_UNAVAILABLE as exc:
            raise DependencyUnavailable(f"redis streams: fetch failed: {exc}") from exc
        return self._accept(_by_stream(reply))

    async def _read_own_pending(self, count: int) -> list[ReceivedEvent]:
        """Entries delivered to this name before and never acknowledged (after a crash)."""
        streams: dict[Any, Any] = dict(self._pending_from)
        reply = _by_stream(
            await self._client.xreadgroup(self._group, self._name, streams, count=count)
        )
        for key, entries in reply:
            if entries:
                self._pending_from[key] = _text(entries[-1][0])
        exhausted = {key for key, entries in reply if not entries}
        exhausted |= self._pending_from.keys() - {key for key, _ in reply}
        for key in exhausted:
            self._pending_from.pop(key, None)
        return self._accept(reply)

    async def _claim_abandoned(self, count: int) -> list[ReceivedEvent]:
        """Entries another member fetched and left unacknowledged for too long."""
        self._next_claim = time.monotonic() + self._claim_idle_ms / 2000
        received: list[ReceivedEvent] = []
        for key in self._topics:
            reply = await self._client.xautoclaim(
                key,
                self._group,
                self._name,
                self._claim_idle_ms,
                self._claim_from[key],
                count=count,
            )
            self._claim_from[key] = _text(reply[0])
            mine = set(self._unacked[key])
            entries = [e for e in reply[1] if _text(e[0]) not in mine]
            received.extend(self._accept([(key, entries)]))
        return received

    def _accept(self, reply: list[tuple[str, list[Any]]]) -> list[ReceivedEvent]:
        received: list[ReceivedEvent] = []
        for key, entries in reply:
            for entry_id_raw, fields in entries:
                entry_id = _text(entry_id_raw)
                self._unacked[key].append(entry_id)
                event = _parse(fields)
                # A trimmed entry (no fields) or a malformed one cannot be processed by
                # anyone: it is acknowledged with the rest on the next commit.
                if event is not None:
                    received.append(ReceivedEvent(self._topics[key], event, entry_id))
        return received

    async def commit(self) -> None:
        if not self._started:
            raise RuntimeError("the consumer is not started")
        try:
            for key, ids in self._unacked.items():
                if ids:
                    await self._client.xack(key, self._group, *ids)
                    ids.clear()
        except REDIS_UNAVAILABLE as exc:
            raise DependencyUnavailable(f"redis streams: commit failed: {exc}") from exc


def _by_stream(reply: Any) -> list[tuple[str, list[Any]]]:
    """An XREADGROUP reply as (stream key, entries) pairs, in RESP2 (list) or RESP3 (map)."""
    pairs = reply.items() if isinstance(reply, dict) else (reply or [])
    return [(_text(key), list(entries or [])) for key, entries in pairs]


def _parse(fields: dict[bytes, bytes] | None) -> Event | None:
    raw = (fields or {}).get(b"event")
    if raw is None:
        return None
    try:
        return Event.from_json(raw)
    except ValidationError as exc:
        log.error("skipping a malformed event: %s", exc)
        return None
