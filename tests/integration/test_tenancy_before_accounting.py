"""Membership comes before accounting: a stranger naming another workspace spends their own
budget, never its (its rate limit, its headers, its audit log stay as they were)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest

from rivergen.settings import Settings
from tests.integration.api_client import register
from tests.platform_app import create_app


@pytest.fixture
async def client(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(migrated)  # the rate limit on, as shipped
    async with app.router.lifespan_context(app):
        address = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::4"
        transport = httpx.ASGITransport(app=app, client=(address, 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http


async def test_a_strangers_requests_leave_the_victims_workspace_untouched(
    client: httpx.AsyncClient,
) -> None:
    victim, stranger = await register(client, "victim"), await register(client, "stranger")
    naming_victim = stranger.headers(victim.workspace_id)
    requests = [
        ("GET", "/api/v1/datasets"),  # a workspace route: 404 for a stranger
        ("POST", "/api/v1/api-keys"),  # a mutating one
        ("GET", "/api/v1/me"),  # routes of no workspace, naming one anyway
        ("POST", "/api/v1/auth/logout"),
    ]
    statuses: dict[int, int] = {}
    for n in range(1000):
        method, path = requests[n % 3] if n < 999 else requests[3]
        body = {"name": "k"} if method == "POST" and "api-keys" in path else None
        response = await client.request(method, path, json=body, headers=naming_victim)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        # Whatever the stranger is told is about the stranger's own budget.
        if "x-ratelimit-limit" in response.headers:
            assert response.headers["x-ratelimit-limit"] == "60", (n, response.headers)
    # 60 a minute for the stranger (the free plan, per account), then 429.
    assert statuses[429] >= 1000 - 60, statuses
    assert set(statuses) <= {200, 204, 404, 429}, statuses

    # The victim's first request has the whole budget, and their audit log has no trace.
    mine = await client.get("/api/v1/audit?limit=500", headers=victim.headers())
    assert mine.status_code == 200, mine.text
    assert mine.headers["x-ratelimit-remaining"] == "59"
    assert mine.json()["items"] == [], mine.json()["items"]
    keys = await client.get("/api/v1/api-keys", headers=victim.headers())
    assert keys.json() == []


async def test_a_member_is_counted_in_the_workspace(client: httpx.AsyncClient) -> None:
    """The other side: a member's requests are the workspace's, shown in its headers."""
    owner = await register(client, "owner")
    first = await client.get("/api/v1/datasets", headers=owner.headers())
    second = await client.get("/api/v1/me", headers=owner.headers())
    assert first.headers["x-ratelimit-remaining"] == "59"
    assert second.headers["x-ratelimit-remaining"] == "58"
