"""Waiting for a job to end without polling it: the supervisor announces each end on a Redis
App channel after the end is committed, and each gateway process keeps one subscription to it.

The announcement only wakes a waiter early: a waiter always decides from the job's row (read
again after each wake, and at least every ``recheck_s``), so a lost announcement or Redis
being away costs latency, never a wrong answer.
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

log = logging.getLogger(__name__)

CHANNEL = "rivergen:jobs:ended"


async def announce_end(redis: aioredis.Redis, job: UUID) -> None:
    """Tell the waiters that ``job`` has ended (its row committed). Best effort."""
    try:
        await redis.publish(CHANNEL, str(job))
    except REDIS_UNAVAILABLE as exc:
        log.warning("job %s ended but could not be announced (%s); waiters recheck", job, exc)


class JobEndWatch:
    """One subscription to the end announcements per process, shared by all its waiters
    (without Redis, waiters only recheck)."""

    def __init__(self, redis: aioredis.Redis | None, *, recheck_s: float = 1.0) -> None:
        self._redis = redis
        self._recheck_s = recheck_s
        self._waiters: dict[UUID, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def wait(self, job: UUID, timeout_s: float, ended: Callable[[], Awaitable[bool]]) -> bool:
        """Return True as soon as ``ended()`` is (checked now, on each announcement of
        ``job`` and every ``recheck_s``), False after ``timeout_s`` if it never was."""
        deadline = time.monotonic() + timeout_s
        woken = asyncio.Event()
        self._waiters.setdefault(job, set()).add(woken)
        try:
            await self._listening(min(timeout_s, 0.5))
            while True:
                woken.clear()
                if await ended():
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(remaining, self._recheck_s)):
                        await woken.wait()
        finally:
            waiting = self._waiters.get(job)
            if waiting is not None:
                waiting.discard(woken)
                if not waiting:
                    del self._waiters[job]

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
        try:
            job = UUID(data.decode() if isinstance(data, bytes) else data)
        except ValueError:
            return
        for woken in self._waiters.get(job, ()):
            woken.set()
