"""Consume events with exactly-once effects in Postgres.

For each received event, one Postgres transaction records ``(group, event_id)`` in
``processed_events`` (``ON CONFLICT DO NOTHING``) and, only if that row is new, runs the
handler with the same connection. The bus offset is committed after those transactions. A
crash between the two makes the bus deliver the events again; their rows are already there,
so the handler does not run twice. The handler's side effect must therefore live in the same
database transaction (rows written with the connection it is given).

The de-duplication scope is the consumer group: members of one group share it, and two groups
(two services) each handle every event once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg

from rivergen.db.pool import Database
from rivergen.events.bus import EventBus, ReceivedEvent
from rivergen.events.envelope import Event
from rivergen.events.loop import ConsumerLoop
from rivergen.metrics import record_event

EventHandler = Callable[[asyncpg.Connection, Event], Awaitable[None]]
"""Applies one event's side effect with the given connection, inside the open transaction."""


@dataclass(frozen=True)
class BatchOutcome:
    """What one poll did: events handled now, and redeliveries skipped as already handled."""

    handled: int
    duplicates: int


class IdempotentConsumer(ConsumerLoop):
    """Runs ``handler`` once per event id for ``group_id``, however often the bus delivers it."""

    def __init__(
        self,
        bus: EventBus,
        db: Database,
        topics: str | Sequence[str],
        group_id: str,
        handler: EventHandler,
        *,
        name: str | None = None,
        max_records: int = 100,
        poll_timeout_s: float = 1.0,
        retry_backoff_s: float = 1.0,
    ) -> None:
        super().__init__(bus, topics, group_id, name=name, retry_backoff_s=retry_backoff_s)
        self._db = db
        self._handler = handler
        self._max_records = max_records
        self._poll_timeout_s = poll_timeout_s

    async def handle(self, received: ReceivedEvent) -> bool:
        """Apply one event unless this group already did; True if the handler ran."""
        event = received.event
        workspace = str(event.workspace_id) if event.workspace_id is not None else None
        async with self._db.transaction(workspace) as conn:
            first_time = await conn.fetchval(
                "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) "
                "ON CONFLICT DO NOTHING RETURNING true",
                self._group_id,
                event.event_id,
            )
            if first_time:
                await self._handler(conn, event)
        return bool(first_time)

    async def poll_once(self) -> BatchOutcome:
        """Fetch a batch, handle each event in its own transaction, then commit the batch.

        If a handler raises, its transaction rolls back, the batch is not committed and the
        error propagates: restart the consumer (``stop()``, ``start()``) so the bus delivers
        the uncommitted events again; :meth:`~rivergen.events.loop.ConsumerLoop.run` does this
        by itself.
        """
        consumer = self.consumer
        batch = await consumer.getmany(
            max_records=self._max_records, timeout_s=self._poll_timeout_s
        )
        handled = 0
        for received in batch:
            handled += await self.handle(received)
            event = received.event
            record_event(event.type, "consumed", self._group_id, event.occurred_at)
        if batch:
            await consumer.commit()
        return BatchOutcome(handled=handled, duplicates=len(batch) - handled)
