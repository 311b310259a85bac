"""The notification bridge: platform events from the bus to the workspaces' Socket.io rooms.

For each batch of received events, of those people see
(:func:`~rivergen.notifications.events.socket_event_of`):

1. keep every one in ``notifications`` (``ON CONFLICT (event_id) DO NOTHING``), each committed;
2. then, in order, emit each whose row does not say it was emitted already to the workspace's
   room through the write-only emitter, and mark the row emitted;

and after the whole batch, commit the bus offsets. A bridge killed after emitting but before
the bus commit gets the events again after its restart: their rows say ``emitted``, so nothing
is emitted twice. Killed after keeping an event but before emitting it, the redelivery emits it
then. The one window left is between the emit and marking the row (one Postgres round trip):
a crash exactly there emits that event again; clients can drop a repeat by ``event_id``.

A batch is kept before any of it is emitted, so a client that missed an event live
(disconnected, or the Redis Socket server was down) finds it with the catch-up endpoint: during
an outage of the Redis Socket server the bridge keeps re-reading its uncommitted batch (up to
``max_records`` events, all kept) until the emits succeed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from rivergen.clients import open_db_and_bus
from rivergen.db import Database
from rivergen.events import EventBus, ReceivedEvent
from rivergen.events.loop import ConsumerLoop
from rivergen.metrics import record_event
from rivergen.notifications import store
from rivergen.notifications.emitter import NotificationEmitter
from rivergen.notifications.events import (
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
        max_records: int = 100,
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
        self._poll_timeout_s = poll_timeout_s
        self._owns_clients = False

    @classmethod
    async def open(cls, settings: Settings, *, name: str | None = None) -> NotificationBridge:
        """Open a pool, the event bus and the emitter from settings (close with :meth:`close`)."""
        db, bus = await open_db_and_bus(settings)
        bridge = cls(db, bus, NotificationEmitter.from_settings(settings), name=name)
        bridge._owns_clients = True
        return bridge

    async def close(self) -> None:
        """Stop; a bridge made by :meth:`open` also closes its emitter, bus and pool."""
        await self.stop()
        if self._owns_clients:
            await self._emitter.close()
            await self._bus.stop()
            await self._db.close()

    async def keep(self, received: ReceivedEvent) -> Notification | Delivery:
        """Keep one event; its notification if it is still to be emitted, else what it is."""
        event = received.event
        socket_event = socket_event_of(received.topic, event)
        if socket_event is None or event.workspace_id is None:
            return Delivery.SKIPPED
        async with self._db.transaction(str(event.workspace_id)) as conn:
            row = await store.insert(conn, socket_event, event)
        if row is None:
            log.error("event %s: its id is kept for another workspace; not shown", event.event_id)
            return Delivery.DUPLICATE
        if row["emitted_at"] is not None:
            return Delivery.DUPLICATE
        return notification_of(row)

    async def emit(self, notification: Notification) -> None:
        """Emit a kept notification to its rooms (:func:`rooms_of`), then mark it emitted."""
        workspace = str(notification.workspace_id)
        rooms = rooms_of(notification)
        if rooms:  # never an empty list: Socket.io would send it to every socket
            await self._emitter.emit(
                notification.event, notification.model_dump(mode="json"), room=rooms
            )
        async with self._db.transaction(workspace) as conn:
            await store.mark_emitted(conn, notification.id)

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
        counts = dict.fromkeys(Delivery, 0)
        pending: list[Notification] = []
        for received in batch:
            kept = await self.keep(received)
            record_event(
                received.event.type, "consumed", self._group_id, received.event.occurred_at
            )
            if isinstance(kept, Delivery):
                counts[kept] += 1
            else:
                pending.append(kept)
        for notification in pending:
            await self.emit(notification)
            counts[Delivery.EMITTED] += 1
        outcome = BridgeOutcome(
            emitted=counts[Delivery.EMITTED],
            duplicates=counts[Delivery.DUPLICATE],
            skipped=counts[Delivery.SKIPPED],
        )
        if batch:
            if before_commit is not None:
                await before_commit(outcome)
            await consumer.commit()
        return outcome
