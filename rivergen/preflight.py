"""Start-up checks: every configured service must answer within the start-up timeout.

A configured service that cannot be reached stops start-up with a message naming it and its
address; it never falls back to an embedded default.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial

import asyncpg

from rivergen.cache import connect_redis, ping_redis
from rivergen.errors import ConfigurationError
from rivergen.events import check_kafka_reachable
from rivergen.objectstore import connect_object_store
from rivergen.settings import Settings
from rivergen.urls import safe_address


async def _postgres(dsn: str, timeout_s: float) -> None:
    conn = await asyncpg.connect(dsn, timeout=timeout_s, statement_cache_size=0)
    await conn.close()


async def _redis(url: str, settings: Settings, timeout_s: float) -> None:
    client = connect_redis(url, settings.redis_app)
    try:
        await ping_redis(client, timeout_s)
    finally:
        await client.aclose()


async def _s3(settings: Settings, timeout_s: float) -> None:
    objects = connect_object_store(settings)
    try:
        await objects.ping(timeout_s)
    finally:
        await objects.close()


async def check_configured_services(settings: Settings) -> None:
    """Raise ConfigurationError for the first configured service that does not answer."""
    timeout_s = settings.startup_timeout_s
    checks: list[tuple[str, str, Callable[[], Awaitable[None]]]] = []
    if settings.postgres.dsn is not None:
        dsn = settings.postgres.dsn.get_secret_value()
        checks.append(("postgres", safe_address(dsn), lambda: _postgres(dsn, timeout_s)))
    if settings.postgres.migrate_dsn is not None:
        mdsn = settings.postgres.migrate_dsn.get_secret_value()
        checks.append(
            ("postgres (migrations)", safe_address(mdsn), lambda: _postgres(mdsn, timeout_s))
        )
    for name, redis_settings in (
        ("redis_app", settings.redis_app),
        ("redis_socket", settings.redis_socket),
    ):
        if redis_settings.url is not None:
            url = redis_settings.url.get_secret_value()
            checks.append((name, safe_address(url), partial(_redis, url, settings, timeout_s)))
    if settings.kafka.bootstrap_servers is not None:
        servers = settings.kafka.bootstrap_servers
        checks.append(("kafka", servers, lambda: check_kafka_reachable(settings, timeout_s)))
    if settings.s3.configured:
        where = settings.s3.endpoint_url or f"s3://{settings.s3.bucket}"
        checks.append(("s3", where, lambda: _s3(settings, timeout_s)))

    async def run(name: str, address: str, probe: Callable[[], Awaitable[None]]) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                await probe()
        except ConfigurationError:
            raise
        except (Exception, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise ConfigurationError(
                f"{name} at {address} is unreachable: {reason}",
                code=f"{name.split()[0]}_unreachable",
            ) from exc

    await asyncio.gather(*(run(*check) for check in checks))
