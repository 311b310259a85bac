"""Postgres and Redis App restarted under a running gateway (the real servers, stopped and
started with `scripts/services`, which reads their ports and directory from the environment).

These stop shared servers: the suite runs them alone against the services `scripts/test`
started. Never run them against servers others are using.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest

from rivergen.settings import Settings
from tests.chaos.proxied_platform import secret, serve, timed, until
from tests.conftest import REPO_ROOT
from tests.integration.api_client import Account, register

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(60)]

TIMEOUT_S = 2.0  # the gateway's Postgres and Redis timeouts in these tests
GRACE_S = 1.0
RECOVERY_S = 5.0


def services(command: str, name: str) -> float:
    """``scripts/services COMMAND NAME``; the seconds it took."""
    start = time.perf_counter()
    subprocess.run(
        [str(REPO_ROOT / "scripts" / "services"), command, name],
        check=True,
        capture_output=True,
        timeout=50,
        env=os.environ,
    )
    return time.perf_counter() - start


@pytest.fixture(scope="module")
async def api(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    pg = migrated.postgres.model_copy(
        update={
            "connect_timeout_s": TIMEOUT_S,
            "command_timeout_s": TIMEOUT_S,
            "acquire_timeout_s": TIMEOUT_S,
        }
    )
    redis_app = migrated.redis_app.model_copy(update={"socket_timeout_s": TIMEOUT_S})
    # The writers outrun the free plan's requests a minute: a 429 is not what this is about.
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    settings = migrated.model_copy(
        update={"postgres": pg, "redis_app": redis_app, "gateway": gateway}
    )
    async with serve(settings) as client:
        yield client


@dataclass
class Writes:
    acknowledged: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    slowest_s: float = 0.0
    ok_at: list[float] = field(default_factory=list)


async def write_until(
    api: httpx.AsyncClient, owner: Account, stop: asyncio.Event, writes: Writes
) -> None:
    while not stop.is_set():
        body = {"name": f"w-{uuid.uuid4().hex[:10]}", "enabled": False, "rule": {"type": "access"}}
        response, elapsed = await timed(
            api.post("/api/v1/policies", json=body, headers=owner.headers())
        )
        writes.statuses.append(response.status_code)
        writes.slowest_s = max(writes.slowest_s, elapsed)
        if response.status_code == 201:
            writes.acknowledged.append(response.json()["id"])
            writes.ok_at.append(time.perf_counter())
        elif response.status_code == 503:
            assert response.json()["error"]["code"], response.text
            await asyncio.sleep(0.05)


async def test_postgres_restart_during_writes_is_503_then_recovers_and_loses_nothing(
    api: httpx.AsyncClient, migrated: Settings
) -> None:
    owner = await register(api, "pgrestart")
    writes, stop = Writes(), asyncio.Event()
    writers = [asyncio.create_task(write_until(api, owner, stop, writes)) for _ in range(4)]
    try:
        await until(lambda: _true(len(writes.acknowledged) >= 8), 10.0, 0.05)
        await asyncio.to_thread(services, "stop", "postgres")
        down_from = len(writes.statuses)
        await until(lambda: _true(503 in writes.statuses[down_from:]), 10.0, 0.05)
        await asyncio.to_thread(services, "start", "postgres")
        back_at = time.perf_counter()
        await until(lambda: _true(any(t > back_at for t in writes.ok_at)), RECOVERY_S + 5, 0.05)
        recovered_s = min(t for t in writes.ok_at if t > back_at) - back_at
    finally:
        stop.set()
        await asyncio.gather(*writers)
    assert set(writes.statuses) <= {201, 503}, sorted(set(writes.statuses))
    assert 503 in writes.statuses
    assert writes.slowest_s <= TIMEOUT_S + GRACE_S, writes.slowest_s
    assert recovered_s <= RECOVERY_S, f"recovered {recovered_s:.2f} s after Postgres was back"
    # Every write the API acknowledged is there (read straight from Postgres).
    conn = await asyncpg.connect(secret(migrated.postgres.migrate_dsn))
    try:
        found = await conn.fetchval(
            "SELECT count(*) FROM policies WHERE id = ANY($1::uuid[])", writes.acknowledged
        )
    finally:
        await conn.close()
    assert found == len(writes.acknowledged)
    print(  # the figures of the run, shown with -s
        f"postgres restart: {len(writes.acknowledged)} writes acknowledged, "
        f"{writes.statuses.count(503)} answered 503, slowest {writes.slowest_s:.2f} s, "
        f"recovered {recovered_s:.2f} s after Postgres was back"
    )


async def test_redis_app_restart_degrades_to_503_then_sign_in_again_never_500(
    api: httpx.AsyncClient,
) -> None:
    owner = await register(api, "redisrestart")
    key = await api.post(
        "/api/v1/api-keys", json={"name": "restart", "role": "viewer"}, headers=owner.headers()
    )
    assert key.status_code == 201, key.text
    by_key = {"Authorization": f"Bearer {key.json()['key']}"}
    assert (await api.get("/api/v1/me", headers=owner.headers())).status_code == 200

    await asyncio.to_thread(services, "stop", "redis-app")
    try:
        # A session cannot be read: 503 (retry), never a 500 and never a pass.
        me, elapsed = await timed(api.get("/api/v1/me", headers=owner.headers()))
        assert me.status_code == 503, me.text
        assert elapsed <= TIMEOUT_S + GRACE_S
        # Signing in needs the throttle, which fails closed.
        login = await api.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": owner.password}
        )
        assert login.status_code == 503, login.text
        # An API key is checked in Postgres; the rate limiter fails open: still served.
        listed = await api.get("/api/v1/policies", headers=by_key)
        assert listed.status_code == 200, listed.text
    finally:
        await asyncio.to_thread(services, "start", "redis-app")

    # Redis App keeps no data across a restart: the session is gone, so 401 and sign in again.
    async def answered() -> bool:
        return (await api.get("/api/v1/me", headers=owner.headers())).status_code != 503

    await until(answered, RECOVERY_S)
    me = await api.get("/api/v1/me", headers=owner.headers())
    assert me.status_code == 401, me.text
    assert me.json()["error"]["code"] == "session_expired"
    login = await api.post(
        "/api/v1/auth/login", json={"email": owner.email, "password": owner.password}
    )
    assert login.status_code == 200, login.text
    fresh = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (await api.get("/api/v1/me", headers=fresh)).status_code == 200


async def _true(value: bool) -> bool:
    return value
