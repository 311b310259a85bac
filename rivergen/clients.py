"""The clients one process holds for the platform's backing services, opened and closed together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import redis.asyncio as aioredis

from rivergen.cache import connect_redis
from rivergen.db import Database
from rivergen.errors import ConfigurationError, DependencyUnavailable
from rivergen.events import EventBus, connect_event_bus
from rivergen.objectstore import ObjectStore, connect_object_store
from rivergen.settings import Settings

log = logging.getLogger(__name__)

# Seconds between two attempts to reach a dependency that was down at start, growing to the
# second value.
_RETRY_FIRST_S = 0.5
_RETRY_MAX_S = 5.0


def require(value: object, name: str, variable: str) -> str:
    """The secret or plain value of a setting that must be resolved by now."""
    if value is None:
        raise ConfigurationError(
            f"{name} is not configured ({variable}); run `rivergen up` for the embedded "
            "defaults or set the variable"
        )
    secret = getattr(value, "get_secret_value", None)
    return str(secret() if secret else value)


@dataclass
class PlatformClients:
    """Postgres (through PgBouncer), Redis App, Redis Socket, the event bus, object storage."""

    settings: Settings
    db: Database
    redis_app: aioredis.Redis
    redis_socket: aioredis.Redis
    events: EventBus
    objects: ObjectStore
    _stack: AsyncExitStack

    @classmethod
    async def open(
        cls, settings: Settings, *, wait_for_dependencies: bool = False
    ) -> PlatformClients:
        """Open every client. Connections are made lazily where the client allows it, so a
        dependency that is down makes /readyz fail rather than the process.

        Postgres and the event bus connect at once. If either is unreachable, the process
        still starts: that client is connected again in the background until it answers, and
        until then its calls raise :class:`DependencyUnavailable` (503) and /readyz says which
        one is down. ``wait_for_dependencies=True`` fails instead (a worker with nothing to
        serve meanwhile). A configuration error fails either way.
        """
        stack = AsyncExitStack()
        redis_app_url = require(settings.redis_app.url, "redis_app", "RIVERGEN_REDIS_APP__URL")
        redis_app = connect_redis(redis_app_url, settings.redis_app)
        stack.push_async_callback(redis_app.aclose)
        redis_socket = connect_redis(
            require(settings.redis_socket.url, "redis_socket", "RIVERGEN_REDIS_SOCKET__URL"),
            settings.redis_socket,
        )
        stack.push_async_callback(redis_socket.aclose)
        db = Database(
            require(settings.postgres.dsn, "postgres", "RIVERGEN_POSTGRES__DSN"), settings.postgres
        )
        stack.push_async_callback(db.close)
        events = connect_event_bus(settings, redis_url=redis_app_url)
        stack.push_async_callback(events.stop)
        objects = connect_object_store(settings)
        stack.push_async_callback(objects.close)
        try:
            for name, connect in (("postgres", db.open), (f"events ({events.name})", events.start)):
                if not await _first_attempt(name, connect, wait_for_dependencies):
                    retry = asyncio.create_task(_connect_until_up(name, connect))
                    stack.push_async_callback(_cancel, retry)
        except BaseException:
            await stack.aclose()
            raise
        return cls(settings, db, redis_app, redis_socket, events, objects, stack)

    def on_close(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` when the clients close (before those opened earlier close)."""
        self._stack.push_async_callback(callback)

    async def close(self) -> None:
        await self._stack.aclose()


def _unreachable(exc: BaseException) -> bool:
    """Is this a dependency that did not answer (worth retrying), not a wrong setting?"""
    if isinstance(exc, DependencyUnavailable):
        return True
    return isinstance(exc, ConfigurationError) and exc.error_code.endswith("_unreachable")


async def _first_attempt(name: str, connect: Callable[[], Awaitable[None]], strict: bool) -> bool:
    try:
        await connect()
    except (DependencyUnavailable, ConfigurationError) as exc:
        if strict or not _unreachable(exc):
            raise
        log.warning("%s is unreachable at start (%s); retrying in the background", name, exc)
        return False
    return True


async def _connect_until_up(name: str, connect: Callable[[], Awaitable[None]]) -> None:
    delay = _RETRY_FIRST_S
    while True:
        await asyncio.sleep(delay)
        try:
            await connect()
        except (DependencyUnavailable, ConfigurationError) as exc:
            if not _unreachable(exc):
                log.error("%s cannot be connected: %s", name, exc)
                return
            delay = min(_RETRY_MAX_S, delay * 2)
            continue
        log.info("%s is connected", name)
        return


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def open_db_and_bus(settings: Settings) -> tuple[Database, EventBus]:
    """A pool and a started event bus: what an event worker (relay, consumer) needs. Nothing
    is left open if either fails."""
    db = Database(
        require(settings.postgres.dsn, "postgres", "RIVERGEN_POSTGRES__DSN"), settings.postgres
    )
    redis_url = settings.redis_app.url.get_secret_value() if settings.redis_app.url else None
    bus = connect_event_bus(settings, redis_url=redis_url)
    try:
        await db.open()
        await bus.start()
    except BaseException:
        await bus.stop()
        await db.close()
        raise
    return db, bus
