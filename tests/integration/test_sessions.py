"""Sessions in Redis App expire on their TTL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from rivergen.cache import SessionStore, connect_redis
from rivergen.settings import Settings


@pytest.fixture
async def redis_app(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    assert settings.redis_app.url is not None
    client = connect_redis(settings.redis_app.url.get_secret_value(), settings.redis_app)
    yield client
    await client.aclose()


async def test_session_round_trip_and_revoke(redis_app: aioredis.Redis) -> None:
    store = SessionStore(redis_app, ttl_s=60)
    session = await store.create("user-1", workspace_id="ws-1")
    assert await store.get(session.session_id) == session
    assert await store.revoke(session.session_id)
    assert await store.get(session.session_id) is None


async def test_session_expires_on_its_ttl(redis_app: aioredis.Redis) -> None:
    store = SessionStore(redis_app)
    session = await store.create("user-2", ttl_s=1)
    assert await store.get(session.session_id) is not None
    await asyncio.sleep(1.3)
    assert await store.get(session.session_id) is None


async def test_app_and_socket_redis_are_two_servers(settings: Settings) -> None:
    assert settings.redis_app.url is not None and settings.redis_socket.url is not None
    app = connect_redis(settings.redis_app.url.get_secret_value(), settings.redis_app)
    sock = connect_redis(settings.redis_socket.url.get_secret_value(), settings.redis_socket)
    try:
        app_info = await app.info("server")
        sock_info = await sock.info("server")
        assert app_info["tcp_port"] != sock_info["tcp_port"]
    finally:
        await app.aclose()
        await sock.aclose()
