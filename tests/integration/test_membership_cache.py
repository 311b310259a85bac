"""Roles cached in the real Redis App never outlive a change of memberships: a role read before
a change and cached after it does not count, a change that cannot reach Redis does not commit,
and through the API a demoted or removed member loses the access at their next request."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from rivergen.cache import MembershipCache, connect_redis
from rivergen.errors import DependencyUnavailable
from rivergen.settings import Settings
from tests.integration.api_client import new_team
from tests.platform_app import create_app


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    assert settings.redis_app.url is not None
    client = connect_redis(settings.redis_app.url.get_secret_value(), settings.redis_app)
    yield client
    await client.aclose()


async def test_a_role_read_before_a_change_never_counts_after_it(redis: aioredis.Redis) -> None:
    cache = MembershipCache(redis, ttl_s=300)
    user, workspace = uuid.uuid4(), uuid.uuid4()
    in_postgres = {"role": "editor"}
    reads = 0

    async def load() -> str | None:
        nonlocal reads
        reads += 1
        return in_postgres["role"]

    assert await cache.role(user, workspace, load) == "editor"
    assert await cache.role(user, workspace, load) == "editor"
    assert reads == 1  # the second came from the cache

    # A lookup that read Postgres before a change commits, and caches after it.
    async def slow_load() -> str | None:
        seen = in_postgres["role"]  # still the old role
        await cache.changing(user)
        in_postgres["role"] = "viewer"  # the change commits
        await cache.changed(user)
        return seen

    await redis.delete(f"rivergen:acl:role:{user}:{workspace}")
    assert await cache.role(user, workspace, slow_load) == "editor"
    # What it cached is stale: the next lookup reads Postgres again.
    assert await cache.role(user, workspace, load) == "viewer"
    assert reads == 2

    # Removed: no role, also cached as none, until the next change.
    await cache.changing(user)
    in_postgres["role"] = None  # type: ignore[assignment]
    await cache.changed(user)
    assert await cache.role(user, workspace, load) is None
    assert await cache.role(user, workspace, load) is None
    assert reads == 3


async def test_without_redis_a_change_does_not_commit_and_lookups_ask_postgres() -> None:
    away = aioredis.Redis.from_url(
        "redis://127.0.0.1:1/0", socket_connect_timeout=0.5, socket_timeout=0.5
    )
    cache = MembershipCache(away, ttl_s=300)
    with pytest.raises(DependencyUnavailable):
        await cache.changing(uuid.uuid4())
    await cache.changed(uuid.uuid4())  # after a commit: logged, never raised

    async def load() -> str | None:
        return "admin"

    assert await cache.role(uuid.uuid4(), uuid.uuid4(), load) == "admin"
    await away.aclose()


@pytest.fixture
async def client(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(migrated)
    async with app.router.lifespan_context(app):
        address = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::7"
        transport = httpx.ASGITransport(app=app, client=(address, 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http


async def test_a_demoted_member_loses_the_access_at_once(client: httpx.AsyncClient) -> None:
    team = await new_team(client)
    owner, editor = team["owner"], team["editor"]
    ws = owner.workspace_id
    listed = await client.get(f"/api/v1/workspaces/{ws}/members", headers=owner.headers())
    editor_id = next(m["user_id"] for m in listed.json()["items"] if m["email"] == editor.email)
    # An editor may read the workspace (their role is cached by now) ...
    before = await client.get(f"/api/v1/workspaces/{ws}", headers=editor.headers())
    assert before.status_code == 200 and before.json()["role"] == "editor"
    assert (await client.get("/api/v1/datasets", headers=editor.headers())).status_code == 200
    # ... demoted to viewer, the very next request is a viewer's.
    demoted = await client.patch(
        f"/api/v1/workspaces/{ws}/members/{editor_id}",
        json={"role": "viewer"},
        headers=owner.headers(),
    )
    assert demoted.status_code == 200
    me = await client.get(f"/api/v1/workspaces/{ws}", headers=editor.headers())
    assert me.status_code == 200 and me.json()["role"] == "viewer"
    # ... removed, the next one finds no workspace.
    removed = await client.delete(
        f"/api/v1/workspaces/{ws}/members/{editor_id}", headers=owner.headers()
    )
    assert removed.status_code == 204
    gone = await client.get("/api/v1/datasets", headers=editor.headers())
    assert gone.status_code == 404
