"""Metering: usage counters from usage events, exactly once per event.

:class:`UsageMeter` is an :data:`~rivergen.events.EventHandler`: run by an
:class:`~rivergen.events.IdempotentConsumer`, its counter update commits in the same
transaction as the event's de-duplication row, so a redelivered event (after a crash between
the Postgres commit and the bus commit) is never counted twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import asyncpg
from pydantic import ValidationError

from rivergen.billing import store
from rivergen.billing.metrics import METERED_TOPICS, usage_of
from rivergen.billing.periods import period_of
from rivergen.clients import open_db_and_bus
from rivergen.db import Database
from rivergen.events import BatchOutcome, Event, EventBus, IdempotentConsumer
from rivergen.settings import Settings

log = logging.getLogger(__name__)

METERING_GROUP = "billing-metering"


class UsageMeter:
    """Adds a usage event to its workspace's counter for the month it occurred in.

    Events that are not usage events, that carry no workspace, whose workspace has no
    organization, or whose payload is malformed are logged and skipped (never retried: a
    retry could not make them count).
    """

    async def __call__(self, conn: asyncpg.Connection, event: Event) -> None:
        try:
            usage = usage_of(event.type, event.data)
        except ValidationError as exc:
            log.error("not metering malformed %s event %s: %s", event.type, event.event_id, exc)
            return
        if usage is None:
            return
        if event.workspace_id is None:
            log.error("not metering %s event %s: no workspace", event.type, event.event_id)
            return
        org = await store.organization_of(conn, event.workspace_id)
        if org is None:
            log.error(
                "not metering %s event %s: workspace %s has no organization",
                event.type,
                event.event_id,
                event.workspace_id,
            )
            return
        metric, quantity = usage
        await store.add_usage(
            conn, org, event.workspace_id, metric, period_of(event.occurred_at), quantity
        )


class MeteringService:
    """The metering consumer: an :class:`IdempotentConsumer` in group ``billing-metering``
    over the usage topics, running :class:`UsageMeter`."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        topics: Sequence[str] = METERED_TOPICS,
        group_id: str = METERING_GROUP,
        name: str | None = None,
        meter: UsageMeter | None = None,
        max_records: int = 100,
    ) -> None:
        self._db = db
        self._bus = bus
        self._owns_clients = False
        self.consumer = IdempotentConsumer(
            bus,
            db,
            list(topics),
            group_id,
            meter or UsageMeter(),
            name=name,
            max_records=max_records,
        )

    @classmethod
    async def open(cls, settings: Settings, *, name: str | None = None) -> MeteringService:
        """Open a pool and the event bus from settings (close with :meth:`close`)."""
        db, bus = await open_db_and_bus(settings)
        service = cls(db, bus, name=name)
        service._owns_clients = True
        return service

    async def poll_once(self) -> BatchOutcome:
        await self.consumer.start()
        return await self.consumer.poll_once()

    async def run(self, stop: asyncio.Event) -> None:
        """Meter until ``stop`` is set (restarting the consumer after failures)."""
        await self.consumer.run(stop)

    async def close(self) -> None:
        """Stop the consumer; a service made by :meth:`open` also closes its bus and pool."""
        await self.consumer.stop()
        if self._owns_clients:
            await self._bus.stop()
            await self._db.close()


async def run_metering(settings: Settings, stop: asyncio.Event) -> None:
    """Run the metering consumer from settings until ``stop`` is set."""
    service = await MeteringService.open(settings)
    try:
        await service.run(stop)
    finally:
        await service.close()
