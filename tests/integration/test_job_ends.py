"""Waiting for a job's end on the real Redis App: an announcement wakes every waiter of that
job at once, with the job as it ended when the announcer had it; a waiter of another job sleeps
on; without Redis, waiters still see the end."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import redis.asyncio as aioredis

from rivergen.cache import connect_redis
from rivergen.jobs.ends import JobEndWatch, announce_end
from rivergen.jobs.schemas import JobState, JobView
from rivergen.settings import Settings


def app_redis(settings: Settings) -> aioredis.Redis:
    assert settings.redis_app.url is not None
    return connect_redis(settings.redis_app.url.get_secret_value(), settings.redis_app)


async def test_an_announcement_wakes_the_waiters_of_that_job_only(settings: Settings) -> None:
    redis = app_redis(settings)
    # Rechecks far apart: only the announcement can end these waits early.
    watch = JobEndWatch(redis, recheck_s=60)
    ended: set[uuid.UUID] = set()
    job, other = uuid.uuid4(), uuid.uuid4()

    def checker(of: uuid.UUID) -> Callable[[JobView | None], Awaitable[bool]]:
        async def check(announced: JobView | None) -> bool:
            return of in ended

        return check

    try:
        waiters = [asyncio.create_task(watch.wait(job, 30, checker(job))) for _ in range(3)]
        bystander = asyncio.create_task(watch.wait(other, 30, checker(other)))
        await asyncio.sleep(0.5)
        assert not any(w.done() for w in [*waiters, bystander])
        started = time.monotonic()
        ended.add(job)
        await announce_end(redis, job)
        assert await asyncio.wait_for(asyncio.gather(*waiters), timeout=10) == [True] * 3
        assert time.monotonic() - started < 10  # woken, not timed out (30 s)
        await asyncio.sleep(0.3)
        assert not bystander.done()
        bystander.cancel()
    finally:
        await watch.aclose()
        await redis.aclose()


async def test_without_redis_a_waiter_rechecks() -> None:
    watch = JobEndWatch(None, recheck_s=0.05)
    calls = 0

    async def ended(announced: JobView | None) -> bool:
        nonlocal calls
        calls += 1
        return calls >= 3

    assert await watch.wait(uuid.uuid4(), 10, ended)
    assert not await watch.wait(uuid.uuid4(), 0.2, lambda _: asyncio.sleep(0, False))


async def test_an_announcement_carries_the_ended_job_to_its_waiters(settings: Settings) -> None:
    """The supervisor announces the row its end committed: waiters decide from it without
    reading the job again; a bare announcement only wakes them to read."""
    redis = app_redis(settings)
    watch = JobEndWatch(redis, recheck_s=60)
    job = uuid.uuid4()
    now = datetime.now(UTC)
    view = JobView(
        id=job,
        kind="query",
        name=None,
        params={"sql": "SELECT 1"},
        state=JobState.SUCCEEDED,
        progress=100,
        message="done",
        attempts=1,
        max_attempts=3,
        error=None,
        result=None,
        cancel_requested=False,
        created_by="user:x",
        created_at=now,
        started_at=now,
        finished_at=now,
        compute_seconds=0.25,
    )
    seen: list[JobView | None] = []

    async def check(announced: JobView | None) -> bool:
        seen.append(announced)
        return announced is not None

    try:
        waiter = asyncio.create_task(watch.wait(job, 30, check))
        await asyncio.sleep(0.5)
        await announce_end(redis, job)  # no view: the waiter reads (and finds it running)
        await asyncio.sleep(0.3)
        assert not waiter.done()
        await announce_end(redis, job, view)
        assert await asyncio.wait_for(waiter, timeout=10)
        assert seen[0] is None and seen[-1] == view
        assert all(s is None for s in seen[:-1])
    finally:
        await watch.aclose()
        await redis.aclose()
