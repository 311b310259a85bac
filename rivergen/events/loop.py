"""One loop for every member of a consumer group on the bus: start and stop the bus consumer,
poll until told to stop, and restart after a failed poll.

A subclass says what one poll does (:meth:`ConsumerLoop.poll_once`: fetch a batch, apply it,
commit its offsets last). A poll that raises commits nothing: :meth:`ConsumerLoop.run` logs it,
leaves the group, waits ``retry_backoff_s`` (or until stopped) and joins again, so the bus
delivers the uncommitted events once more. The idempotent consumer, the notification bridge
and Decision Intelligence's simulation worker are such loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence

from rivergen.events.bus import EventBus, EventConsumer

log = logging.getLogger(__name__)


class ConsumerLoop(ABC):
    """A member of ``group_id`` over ``topics`` (named ``name`` on the bus, if given)."""

    def __init__(
        self,
        bus: EventBus,
        topics: str | Sequence[str],
        group_id: str,
        *,
        name: str | None = None,
        retry_backoff_s: float = 1.0,
        label: str | None = None,
    ) -> None:
        self._bus = bus
        self._topics = topics
        self._group_id = group_id
        self._name = name
        self._retry_backoff_s = retry_backoff_s
        self._label = label or f"consumer {group_id}"
        self._consumer: EventConsumer | None = None

    @property
    def consumer(self) -> EventConsumer:
        """The bus consumer; :meth:`start` first."""
        if self._consumer is None:
            raise RuntimeError(f"{type(self).__name__}.start() was not called")
        return self._consumer

    async def start(self) -> None:
        """Join the group (nothing if joined already)."""
        if self._consumer is None:
            consumer = self._bus.consumer(self._topics, self._group_id, name=self._name)
            await consumer.start()
            self._consumer = consumer

    async def stop(self) -> None:
        """Leave the group without committing; safe to call twice."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    @abstractmethod
    async def poll_once(self) -> object:
        """Fetch a batch, apply it, then commit its offsets; what it did."""

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set. A failed poll (a handler's error, the bus or Postgres
        down) leaves the group and joins again after a pause, so its uncommitted events come
        back; the consumer is stopped when this returns."""
        try:
            while not stop.is_set():
                try:
                    await self.start()
                    await self.poll_once()
                except Exception:
                    log.exception(
                        "%s failed; restarting in %.1f s", self._label, self._retry_backoff_s
                    )
                    await self.stop()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._retry_backoff_s):
                            await stop.wait()
        finally:
            await self.stop()
