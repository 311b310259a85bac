"""The notification bridge: platform events from the bus to the workspaces' Socket.io rooms.

For each batch of received events (up to ``max_records`` a poll), of those people see
(:func:`~rivergen.notifications.events.socket_event_of`):

1. keep all of them in ``notifications`` (``ON CONFLICT (event_id) DO NOTHING``), one statement
   and one transaction per workspace of the batch;
2. then, in order, emit those whose row does not say they were emitted already: each run of
   notifications for the same rooms (at most ``max_per_emit``) as one emit (a run of one under
   its own Socket.io name, a longer one as one ``notifications`` batch), and mark the run's rows
   emitted in one statement;

and after the whole batch, commit the bus offsets. The database and Redis work is per batch and
per run, never per event, so a burst costs a few round trips per hundreds of events; the bus is
the back-pressure: a bridge that falls behind reads bigger batches, it never queues in memory.
While events keep coming (the last poll had some), a poll gathers them for ``linger_s`` from the
end of the last one (``RIVERGEN_SOCKETS__BRIDGE_LINGER_S``), so a poll that worked that long
does not wait at all; an event after a quiet poll goes at once.

A bridge killed after emitting but before the bus commit gets the events again after its
restart: their rows say ``emitted``, so nothing is emitted twice. Killed after keeping an event
but before emitting it, the redelivery emits it then. The one window left is between an emit and
marking its run (one Postgres round trip): a crash exactly there emits that run again; clients
can drop a repeat by ``id`` or ``event_id``.

A batch is kept before any of it is emitted, so a client that missed an event live
(disconnected, or the Redis Socket server was down) finds it with the catch-up endpoint: during
an outage of the Redis Socket server the bridge keeps re-reading its uncommitted batch (up to
``max_records`` events, all kept) until the emits succeed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from rivergen.clients import open_db_and_bus
from rivergen.db import Database
from rivergen.events import Event, EventBus, ReceivedEvent
from rivergen.events.loop import ConsumerLoop
from rivergen.metrics import record_event
from rivergen.notifications import store
from rivergen.notifications.emitter import NotificationEmitter
from rivergen.notifications.events import (
    NOTIFICATIONS,
    NOTIFIED_TOPICS,
    Notification,
    rooms_of,
    socket_event_of,
)
from rivergen.notifications.service import notification_of
from rivergen.settings import Settings

log = logging.getLogger(__name__)

BRIDGE_GROUP = "notification-bridge"


class Delivery(StrEnum):
    """What the bridge did with one received event."""

    EMITTED = "emitted"
    DUPLICATE = "duplicate"
    """Emitted before (a redelivery): kept once, not emitted again."""
    SKIPPED = "skipped"
    """Not an event people see."""


@dataclass(frozen=True)
class BridgeOutcome:
    """What one poll did."""

    emitted: int = 0
    duplicates: int = 0
    skipped: int = 0


class NotificationBridge(ConsumerLoop):
    """One member of the Kafka group ``notification-bridge`` over :data:`NOTIFIED_TOPICS`."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        emitter: NotificationEmitter,
        *,
        topics: Sequence[str] = NOTIFIED_TOPICS,
        group_id: str = BRIDGE_GROUP,
        name: str | None = None,
        max_records: int = 500,
        max_per_emit: int = 100,
        linger_s: float = 0.0,
        poll_timeout_s: float = 1.0,
        retry_backoff_s: float = 1.0,
    ) -> None:
        super().__init__(
            bus,
            list(topics),
            group_id,
            name=name,
            retry_backoff_s=retry_backoff_s,
            label="notification bridge",
        )
        self._db = db
        self._emitter = emitter
        self._max_records = max_records
        self._max_per_emit = max_per_emit
        self._linger_s = linger_s
        self._streaming = False  # the last poll had events
        self._polled_at = 0.0  # when the last poll ended (monotonic)
        self._poll_timeout_s = poll_timeout_s
        self._owns_clients = False

    @classmethod
    async def open(cls, settings: Settings, *, name: str | None = None) -> NotificationBridge:
        """Open a pool, the event bus and the emitter from settings (close with :meth:`close`)."""
        db, bus = await open_db_and_bus(settings)
        bridge = cls(
            db,
            bus,
            NotificationEmitter.from_settings(settings),
            name=name,
            linger_s=settings.sockets.bridge_linger_s,
        )
        bridge._owns_clients = True
        return bridge

    async def close(self) -> None:
        """Stop; a bridge made by :meth:`open` also closes its emitter, bus and pool."""
        await self.stop()
        if self._owns_clients:
            await self._emitter.close()
            await self._bus.stop()
            await self._db.close()

    async def keep_all(
        self, batch: Sequence[ReceivedEvent]
    ) -> tuple[list[Notification], dict[Delivery, int]]:
        """Keep a batch's events people see (one statement per workspace); the notifications
        still to be emitted, in the batch's order, and what became of the others."""
        counts = dict.fromkeys(Delivery, 0)
        shown: list[Event] = []
        by_workspace: dict[UUID, list[tuple[str, Event]]] = {}
        for received in batch:
            event = received.event
            record_event(event.type, "consumed", self._group_id, event.occurred_at)
            socket_event = socket_event_of(received.topic, event)
            if socket_event is None or event.workspace_id is None:
                counts[Delivery.SKIPPED] += 1
                continue
            shown.append(event)
            by_workspace.setdefault(event.workspace_id, []).append((socket_event, event))
        rows: dict[UUID, Any] = {}
        for workspace, events in by_workspace.items():
            async with self._db.transaction(str(workspace)) as conn:
                rows.update(await store.insert_many(conn, events))
        pending: list[Notification] = []
        taken: set[UUID] = set()
        for event in shown:
            row = rows.get(event.event_id)
            if row is None:
                log.error(
                    "event %s: its id is kept for another workspace; not shown", event.event_id
                )
            if row is None or row["emitted_at"] is not None or event.event_id in taken:
                counts[Delivery.DUPLICATE] += 1
                continue
            taken.add(event.event_id)
            pending.append(notification_of(row))
        return pending, counts

    async def emit_run(self, run: Sequence[Notification]) -> None:
        """Emit a run of kept notifications of one workspace to their common rooms
        (:func:`runs`) as one message, then mark them emitted."""
        rooms = rooms_of(run[0])
        if rooms:  # never an empty list: Socket.io would send it to every socket
            if len(run) == 1:
                await self._emitter.emit(run[0].event, run[0].model_dump(mode="json"), room=rooms)
            else:
                items = [n.model_dump(mode="json") for n in run]
                await self._emitter.emit(NOTIFICATIONS, {"items": items}, room=rooms)
        async with self._db.transaction(str(run[0].workspace_id)) as conn:
            await store.mark_emitted(conn, [n.id for n in run])

    async def poll_once(
        self, before_commit: Callable[[BridgeOutcome], Awaitable[None]] | None = None
    ) -> BridgeOutcome:
        """Fetch a batch, keep all of it, emit it in order, then commit the batch's offsets.

        ``before_commit`` (for tests and instrumentation) is awaited with what the batch did,
        after its deliveries and before the bus commit.

        If a delivery raises (Postgres or the Redis Socket server down), nothing is committed
        and the error propagates: restart the bridge (:meth:`stop`, :meth:`start`) to get the
        batch again; :meth:`~rivergen.events.loop.ConsumerLoop.run` does so by itself.
        """
        await self.start()
        consumer = self.consumer
        batch = await consumer.getmany(
            max_records=self._max_records, timeout_s=self._poll_timeout_s
        )
        if batch and self._streaming and len(batch) < self._max_records:
            # Events keep coming: gather for ``linger_s`` since the last poll (what came while
            # it worked counts), then what arrived meanwhile goes out with these.
            wait = self._linger_s - (time.monotonic() - self._polled_at)
            if wait > 0:
                await asyncio.sleep(wait)
                batch += await consumer.getmany(
                    max_records=self._max_records - len(batch), timeout_s=0
                )
        self._streaming = bool(batch)
        pending, counts = await self.keep_all(batch)
        for run in runs(pending, self._max_per_emit):
            await self.emit_run(run)
            counts[Delivery.EMITTED] += len(run)
        outcome = BridgeOutcome(
            emitted=counts[Delivery.EMITTED],
            duplicates=counts[Delivery.DUPLICATE],
            skipped=counts[Delivery.SKIPPED],
        )
        if batch:
            if before_commit is not None:
                await before_commit(outcome)
            await consumer.commit()
        self._polled_at = time.monotonic()
        return outcome


def runs(notifications: Sequence[Notification], limit: int) -> Iterator[list[Notification]]:
    """``notifications`` cut, in order, into runs of one workspace and the same rooms
    (:func:`rooms_of`) of at most ``limit`` each: each run is one emit."""
    run: list[Notification] = []
    key: tuple[UUID, list[str]] | None = None
    for notification in notifications:
        this = (notification.workspace_id, rooms_of(notification))
        if run and (this != key or len(run) >= limit):
            yield run
            run = []
        run.append(notification)
        key = this
    if run:
        yield run
