"""Listing a workspace's members: every member may read who is in it and with which role, page
by page; nobody outside it learns anything (404)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest

from rivergen.settings import Settings
from tests.integration.api_client import new_team, register
from tests.platform_app import create_app


@pytest.fixture
async def client(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(migrated)
    async with app.router.lifespan_context(app):
        address = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::2"
        transport = httpx.ASGITransport(app=app, client=(address, 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http


async def test_every_member_reads_the_members_and_their_roles(
    client: httpx.AsyncClient,
) -> None:
    team = await new_team(client)
    owner = team["owner"]
    url = f"/api/v1/workspaces/{owner.workspace_id}/members"
    # An invitation (an unknown email) is not a member.
    invited = await client.post(
        url,
        json={"email": f"later-{secrets.token_hex(3)}@example.com", "role": "viewer"},
        headers=owner.headers(),
    )
    assert invited.status_code == 201 and invited.json()["status"] == "invited"

    expected = {team[role].email: role for role in ("owner", "admin", "editor", "viewer")}
    for role in ("viewer", "editor", "admin", "owner"):
        listed = await client.get(url, headers=team[role].headers())
        assert listed.status_code == 200, (role, listed.text)
        body = listed.json()
        assert {m["email"]: m["role"] for m in body["items"]} == expected
        assert body["next_cursor"] is None
    # Newest first: the viewer joined last, the owner first.
    assert [m["role"] for m in body["items"]] == ["viewer", "editor", "admin", "owner"]
    assert all(m["display_name"] and m["joined_at"] for m in body["items"])

    # Page by page: two pages of two, then nothing more.
    first = (await client.get(url, params={"limit": 2}, headers=owner.headers())).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = await client.get(
        url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=owner.headers()
    )
    page2 = second.json()
    assert [m["role"] for m in first["items"] + page2["items"]] == [
        "viewer",
        "editor",
        "admin",
        "owner",
    ]
    assert page2["next_cursor"] is None
    bad = await client.get(url, params={"cursor": "nonsense"}, headers=owner.headers())
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"


async def test_an_outsider_gets_not_found(client: httpx.AsyncClient) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    listed = await client.get(
        f"/api/v1/workspaces/{bob.workspace_id}/members", headers=alice.headers()
    )
    assert listed.status_code == 404, listed.text
    assert listed.json()["error"]["code"].endswith("not_found")
    # Bob's own list has him alone.
    own = await client.get(f"/api/v1/workspaces/{bob.workspace_id}/members", headers=bob.headers())
    assert [(m["email"], m["role"]) for m in own.json()["items"]] == [(bob.email, "owner")]
