"""Redis clients built from settings; vendor errors become DependencyUnavailable."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from rivergen.errors import DependencyUnavailable
from rivergen.settings import RedisSettings

REDIS_UNAVAILABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    TimeoutError,
)


def connect_redis(url: str, settings: RedisSettings) -> aioredis.Redis:
    """A client for ``url`` (``redis://``, ``rediss://`` or ``unix://``); connects lazily."""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=settings.socket_timeout_s,
        socket_connect_timeout=settings.socket_timeout_s,
        health_check_interval=30,
    )


async def ping_redis(client: aioredis.Redis, timeout_s: float, name: str = "redis") -> float:
    """PING with a deadline; returns the latency in milliseconds."""
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            await client.ping()
    except REDIS_UNAVAILABLE as exc:
        raise DependencyUnavailable(f"{name} is unavailable: {exc}") from exc
    return (time.perf_counter() - start) * 1000.0
