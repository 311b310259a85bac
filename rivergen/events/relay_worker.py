"""The process that publishes the outbox: a pool, a bus and an :class:`OutboxRelay`.

The relay's Serve deployment is a thin shell over this class; tests run it without Ray.
"""

from __future__ import annotations

from rivergen.clients import open_db_and_bus
from rivergen.db import Database
from rivergen.events.bus import EventBus
from rivergen.events.outbox import OutboxRelay
from rivergen.settings import Settings


class RelayWorker:
    """Publishes every topic's outbox rows until closed."""

    def __init__(self, db: Database, bus: EventBus, relay: OutboxRelay) -> None:
        self._db = db
        self._bus = bus
        self.relay = relay

    @classmethod
    async def open(cls, settings: Settings) -> RelayWorker:
        db, bus = await open_db_and_bus(settings)
        worker = cls(db, bus, OutboxRelay(db, bus))
        worker.relay.start()
        return worker

    @property
    def healthy(self) -> bool:
        return self.relay.running

    async def close(self) -> None:
        await self.relay.stop()
        await self._bus.stop()
        await self._db.close()
