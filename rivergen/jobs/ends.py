"""Waiting for a job to end without polling it: the supervisor announces each end on a Redis
App channel after the end is committed, with the job as its ended row shows it, and each
gateway process keeps one subscription to it.

A waiter decides from the job's row: the announced one (as committed, so it is not read again),
else the row read again after a wake and at least every ``recheck_s``; a lost announcement or
Redis being away costs latency, never a wrong answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from uuid import UUID

import redis.asyncio as aioredis

from rivergen.cache.redis import REDIS_UNAVAILABLE
from rivergen.jobs.schemas import JobView

log = logging.getLogger(__name__)

CHANNEL = "rivergen:jobs:ended"


async def announce_end(redis: aioredis.Redis, job: UUID, view: JobView | None = None) -> None:
    """Tell the waiters that ``job`` has ended (its row committed), with its ``view`` if the
    announcer has it. Best effort."""
    try:
        await redis.publish(CHANNEL, view.model_dump_json() if view is not None else str(job))
    except REDIS_UNAVAILABLE as exc:
        log.warning("job %s ended but could not be announced (%s); waiters recheck", job, exc)


class JobEndWatch:
    """One subscription to the end announcements per process, shared by all its waiters
    (without Redis, waiters only recheck)."""

    def __init__(self, redis: aioredis.Redis | None, *, recheck_s: float = 1.0) -> None:
        self._redis = redis
        self._recheck_s = recheck_s
        self._waiters: dict[UUID, set[_Waiter]] = {}
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def wait(
        self,
        job: UUID,
        timeout_s: float,
        ended: Callable[[JobView | None], Awaitable[bool]],
    ) -> bool:
        """Return True as soon as ``ended(view)`` is: checked now, on each announcement of
        ``job`` (with the announced view, if it came with one) and every ``recheck_s`` (with
        None); False after ``timeout_s`` if it never was."""
        deadline = time.monotonic() + timeout_s
        waiter = _Waiter()
        self._waiters.setdefault(job, set()).add(waiter)
        try:
            await self._listening(min(timeout_s, 0.5))
            announced: JobView | None = None
            while True:
                waiter.woken.clear()
                if await ended(announced):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(remaining, self._recheck_s)):
                        await waiter.woken.wait()
                announced, waiter.view = waiter.view, None
        finally:
            waiting = self._waiters.get(job)
            if waiting is not None:
                waiting.discard(waiter)
                if not waiting:
                    del self._waiters[job]

    @property
    def listening(self) -> bool:
        """Whether announcements reach this process now (its subscription is made)."""
        return self._subscribed.is_set()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})

    async def _listening(self, within_s: float) -> None:
        """Start the subscription if it is not running; wait a moment for it to be made (a
        waiter that starts before it only relies on its rechecks)."""
        if self._redis is None:
            return
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen(self._redis), name="job-end-watch")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within_s):
                await self._subscribed.wait()

    async def _listen(self, redis: aioredis.Redis) -> None:
        retry_s = 0.1
        while True:
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                self._subscribed.set()
                retry_s = 0.1
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._wake(message["data"])
            except REDIS_UNAVAILABLE as exc:
                log.warning(
                    "job end watch lost Redis (%s); subscribing again in %.1fs", exc, retry_s
                )
            finally:
                self._subscribed.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(retry_s)
            retry_s = min(retry_s * 2, 5.0)

    def _wake(self, data: bytes | str) -> None:
        text = data.decode() if isinstance(data, bytes) else data
        view: JobView | None = None
        try:
            # A view's JSON starts with its id (the field comes first).
            job = UUID(text[7:43] if text.startswith('{"id":"') else text)
            waiting = self._waiters.get(job)
            if not waiting:
                return
            if text.startswith("{"):
                view = JobView.model_validate_json(text)
        except ValueError:  # pydantic's ValidationError is one
            return
        for waiter in waiting:
            waiter.view = view if view is not None and view.id == job else None
            waiter.woken.set()


class _Waiter:
    """One waiting request: woken by an announcement, with the view it carried (if any)."""

    def __init__(self) -> None:
        self.woken = asyncio.Event()
        self.view: JobView | None = None
