"""Readiness: every dependency checked at once, each with its latency or its error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from pydantic import BaseModel, Field

from rivergen.cache import ping_redis
from rivergen.clients import PlatformClients
from rivergen.errors import DependencyUnavailable

DEPENDENCIES = ("postgres", "redis_app", "redis_socket", "events", "object_store", "ray")


class DependencyStatus(BaseModel):
    ok: bool
    latency_ms: float | None = Field(None, description="Round trip of the check.")
    error: str | None = Field(
        None, description="Why the check failed (never on the public `/readyz`)."
    )


class Readiness(BaseModel):
    ready: bool
    dependencies: dict[str, DependencyStatus]
    socket_listeners: int | None = Field(
        None,
        description="Socket.io replicas subscribed to the Redis Socket channel (`PUBSUB "
        "NUMSUB`): each replica's own readiness is at `/socket.io/readyz`. Reported, not "
        "required (the gateway also runs without the Socket.io cluster); null if unknown.",
    )


async def _ray_ping(timeout_s: float) -> float:
    import ray  # the library may run without Ray (bare uvicorn); import where it is used

    start = time.perf_counter()
    if not ray.is_initialized():
        raise DependencyUnavailable("ray is not initialized in this process")
    async with asyncio.timeout(timeout_s):
        await asyncio.to_thread(ray.cluster_resources)
    return (time.perf_counter() - start) * 1000.0


async def _check(probe: Callable[[], Awaitable[float]], timeout_s: float) -> DependencyStatus:
    try:
        async with asyncio.timeout(timeout_s):
            latency = await probe()
    except TimeoutError:
        return DependencyStatus(ok=False, error=f"no answer within {timeout_s:g} s")
    except Exception as exc:  # a readiness probe reports every failure, it never raises
        return DependencyStatus(ok=False, error=str(exc) or type(exc).__name__)
    return DependencyStatus(ok=True, latency_ms=round(latency, 3))


async def _listeners(clients: PlatformClients, channel: str, timeout_s: float) -> int | None:
    try:
        async with asyncio.timeout(timeout_s):
            ((_, count),) = await clients.redis_socket.pubsub_numsub(channel)
    except Exception:  # reported as unknown; the redis_socket check says why
        return None
    return int(count)


async def check_readiness(
    clients: PlatformClients, timeout_s: float, channel: str | None = None
) -> Readiness:
    """Every dependency at once; with ``channel``, also how many Socket.io replicas listen."""
    probes: dict[str, Callable[[], Awaitable[float]]] = {
        "postgres": lambda: clients.db.ping(timeout_s),
        "redis_app": lambda: ping_redis(clients.redis_app, timeout_s, "redis_app"),
        "redis_socket": lambda: ping_redis(clients.redis_socket, timeout_s, "redis_socket"),
        "events": lambda: clients.events.ping(timeout_s),
        "object_store": lambda: clients.objects.ping(timeout_s),
        "ray": lambda: _ray_ping(timeout_s),
    }
    results = await asyncio.gather(*(_check(p, timeout_s) for p in probes.values()))
    statuses = dict(zip(probes, results, strict=True))
    listeners = None if channel is None else await _listeners(clients, channel, timeout_s)
    return Readiness(
        ready=all(s.ok for s in statuses.values()),
        dependencies=statuses,
        socket_listeners=listeners,
    )
