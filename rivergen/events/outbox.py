"""The transactional outbox: a state change and its event commit together; a relay publishes.

A service writes its rows and calls :func:`add_to_outbox` with the same connection inside its
transaction, so either both commit or neither does. :class:`OutboxRelay` then publishes the
unpublished rows in id order and marks them published.

Delivery is at least once: a relay that dies after the broker's ack and before its commit
publishes those rows again. Consumers de-duplicate on ``event_id``
(:mod:`rivergen.events.consumer`).

All of it works through PgBouncer in transaction pooling: no session state, no LISTEN (the
relay polls), and only transaction-scoped locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg

from rivergen.db.pool import Database
from rivergen.errors import Conflict
from rivergen.events.bus import EventBus, OutgoingEvent
from rivergen.events.envelope import Event
from rivergen.metrics import record_event

log = logging.getLogger(__name__)

# Any constant: it only has to be the same for every relay.
_RELAY_LOCK_KEY = 0x52474F42  # "RGOB"


# An event to queue: (topic, event, key: the event's workspace when None).
Queued = tuple[str, Event, str | None]


async def add_to_outbox(
    conn: asyncpg.Connection, topic: str, event: Event, *, key: str | None = None
) -> None:
    """Queue ``event`` for ``topic`` in the caller's open transaction; never commits.

    ``key`` defaults to the event's workspace. Raises :class:`Conflict` if an event with the
    same id is already queued.
    """
    await add_all_to_outbox(conn, [(topic, event, key)])


async def add_all_to_outbox(conn: asyncpg.Connection, events: Sequence[Queued]) -> None:
    """Queue several ``(topic, event, key)`` in the caller's open transaction, in this order,
    with one statement (see :func:`add_to_outbox`)."""
    if not conn.is_in_transaction():
        raise RuntimeError("add_to_outbox needs the caller's open transaction")
    if not events:
        return
    try:
        await conn.execute(
            "INSERT INTO event_outbox (event_id, topic, key, payload) "
            "SELECT e, t, k, p::jsonb FROM unnest($1::uuid[], $2::text[], $3::text[], "
            "$4::text[]) WITH ORDINALITY AS u(e, t, k, p, n) ORDER BY n",
            [event.event_id for _, event, _ in events],
            [topic for topic, _, _ in events],
            [key if key is not None else event.key for _, event, key in events],
            [event.model_dump_json() for _, event, _ in events],
        )
    except asyncpg.UniqueViolationError as exc:
        ids = ", ".join(str(event.event_id) for _, event, _ in events)
        raise Conflict(
            f"event {ids} is already in the outbox", code="event_already_queued"
        ) from exc


def _event(payload: str | dict[str, Any]) -> Event:
    # asyncpg returns jsonb as text unless a codec is registered on the pool.
    return Event.model_validate(payload) if isinstance(payload, dict) else Event.from_json(payload)


class OutboxRelay:
    """Publishes the outbox to the event bus until stopped.

    Several relays may run (one per gateway replica, say): each round runs in one transaction
    that takes a transaction-scoped advisory lock, so one relay at a time publishes and rows go
    out in id order; the rows are also locked ``FOR UPDATE SKIP LOCKED``, so no relay ever
    waits on another's rows. A round that fails (bus or Postgres down) rolls back, and its rows
    are published again later.
    """

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        topics: Sequence[str] | None = None,
        batch_size: int = 100,
        poll_interval_s: float = 0.2,
        max_backoff_s: float = 5.0,
    ) -> None:
        """``topics`` limits the relay to those topics (None: every topic)."""
        self._db = db
        self._bus = bus
        self._topics = list(topics) if topics is not None else None
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._max_backoff_s = max_backoff_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def publish_pending(self) -> int:
        """One round: publish up to ``batch_size`` rows; returns how many were published."""
        published: list[Event] = []
        async with self._db.transaction() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _RELAY_LOCK_KEY):
                return 0
            rows = await conn.fetch(
                "SELECT id, topic, key, payload FROM event_outbox "
                "WHERE published_at IS NULL AND ($2::text[] IS NULL OR topic = ANY($2::text[])) "
                "ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self._batch_size,
                self._topics,
            )
            if not rows:
                return 0
            outgoing = [OutgoingEvent(r["topic"], _event(r["payload"]), r["key"]) for r in rows]
            await self._bus.publish_many(outgoing)
            await conn.execute(
                "UPDATE event_outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                [r["id"] for r in rows],
            )
            published = [item.event for item in outgoing]
        for event in published:  # counted once the round has committed
            record_event(event.type, "published", occurred_at=event.occurred_at)
        return len(published)

    @property
    def running(self) -> bool:
        """True while the relay's task is alive (a health check reads it)."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Run the relay as a task of the current event loop."""
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the current round and stop (cancelled after ``timeout_s``)."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        pause = self._poll_interval_s
        while not self._stopping.is_set():
            try:
                published = await self.publish_pending()
                pause = self._poll_interval_s
            except Exception:  # the relay outlives any failed round; the rows stay queued
                log.exception("outbox relay round failed; retrying in %.1f s", pause)
                published = 0
                pause = min(pause * 2, self._max_backoff_s)
            if published < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await self._stopping.wait()
