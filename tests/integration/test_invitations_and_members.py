"""Invitations wait for their invitee's answer, and members are managed: roles changed, members
removed, leaving, ownership transferred, with the refusals (a viewer changing roles, an admin
touching an owner, the last owner leaving), each in the workspace's audit log."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from rivergen.settings import Settings
from tests.integration.api_client import Account, invite, new_team, register
from tests.platform_app import create_app


@pytest.fixture
async def client(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(migrated)
    async with app.router.lifespan_context(app):
        address = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::3"
        transport = httpx.ASGITransport(app=app, client=(address, 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http


def bearer(who: Account) -> dict[str, str]:
    """A person's own credentials, with no workspace named (their default)."""
    return {"Authorization": f"Bearer {who.access_token}"}


async def members(client: httpx.AsyncClient, owner: Account) -> dict[str, str]:
    listed = await client.get(
        f"/api/v1/workspaces/{owner.workspace_id}/members", headers=owner.headers()
    )
    assert listed.status_code == 200, listed.text
    return {m["email"]: m["role"] for m in listed.json()["items"]}


async def audit_actions(client: httpx.AsyncClient, owner: Account) -> list[tuple[str, str]]:
    page = await client.get("/api/v1/audit?limit=100", headers=owner.headers())
    assert page.status_code == 200, page.text
    return [(e["action"], e["outcome"]) for e in page.json()["items"]]


def error_code(response: httpx.Response) -> Any:
    return response.json()["error"]["code"]


async def test_an_invitation_is_pending_until_its_invitee_accepts(
    client: httpx.AsyncClient,
) -> None:
    owner, ada, eve = [await register(client, n) for n in ("owner", "ada", "eve")]
    stranger = f"nobody-{secrets.token_hex(4)}@example.com"
    url = f"/api/v1/workspaces/{owner.workspace_id}/members"
    to_ada = await client.post(
        url, json={"email": ada.email, "role": "editor"}, headers=owner.headers()
    )
    to_nobody = await client.post(
        url, json={"email": stranger, "role": "editor"}, headers=owner.headers()
    )
    # The same answer whether or not the email has an account.
    assert to_ada.status_code == to_nobody.status_code == 201
    assert set(to_ada.json()) == set(to_nobody.json())
    assert to_ada.json()["status"] == to_nobody.json()["status"] == "invited"
    invitation = to_ada.json()["invitation_id"]

    # Not a member yet: the workspace does not exist for Ada.
    before = await client.get(
        f"/api/v1/workspaces/{owner.workspace_id}", headers=ada.headers(owner.workspace_id)
    )
    assert before.status_code == 404
    pending = (await client.get("/api/v1/invitations", headers=bearer(ada))).json()
    assert [(i["id"], i["workspace_id"], i["role"]) for i in pending] == [
        (invitation, owner.workspace_id, "editor")
    ]
    assert pending[0]["workspace_name"] == "Personal" and pending[0]["invited_by"] == "Owner"
    # Only the invitee answers it.
    assert (await client.get("/api/v1/invitations", headers=bearer(eve))).json() == []
    stolen = await client.post(f"/api/v1/invitations/{invitation}/accept", headers=bearer(eve))
    assert stolen.status_code == 404 and error_code(stolen) == "invitation_not_found"

    accepted = await client.post(f"/api/v1/invitations/{invitation}/accept", headers=bearer(ada))
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["id"], accepted.json()["role"]) == (owner.workspace_id, "editor")
    again = await client.post(f"/api/v1/invitations/{invitation}/accept", headers=bearer(ada))
    assert again.status_code == 404
    assert (await members(client, owner))[ada.email] == "editor"
    assert ("invitation.accepted", "success") in await audit_actions(client, owner)
    # Ada's sign-ins still land in her own workspace.
    login = await client.post(
        "/api/v1/auth/login", json={"email": ada.email, "password": ada.password}
    )
    assert login.json()["workspace_id"] == ada.workspace_id
    # Inviting a member again is a conflict, not a second invitation.
    twice = await client.post(
        url, json={"email": ada.email, "role": "viewer"}, headers=owner.headers()
    )
    assert twice.status_code == 409 and error_code(twice) == "already_member"


async def test_a_declined_invitation_joins_nothing_and_can_be_sent_again(
    client: httpx.AsyncClient,
) -> None:
    owner, bea = await register(client, "owner"), await register(client, "bea")
    invitation = await invite(client, owner, bea, "viewer")
    declined = await client.post(f"/api/v1/invitations/{invitation}/decline", headers=bearer(bea))
    assert declined.status_code == 204
    assert (await client.get("/api/v1/invitations", headers=bearer(bea))).json() == []
    assert bea.email not in await members(client, owner)
    late = await client.post(f"/api/v1/invitations/{invitation}/accept", headers=bearer(bea))
    assert late.status_code == 404
    assert ("invitation.declined", "success") in await audit_actions(client, owner)
    second = await invite(client, owner, bea, "editor")
    assert second != invitation


async def test_registering_an_invited_email_joins_nothing(client: httpx.AsyncClient) -> None:
    """A workspace named "Personal" that a stranger invites you to never becomes yours."""
    mallory = await register(client, "mallory")
    email = f"victim-{secrets.token_hex(4)}@example.com"
    invited = await client.post(
        f"/api/v1/workspaces/{mallory.workspace_id}/members",
        json={"email": email, "role": "admin"},
        headers=mallory.headers(),
    )
    assert invited.status_code == 201
    made = await client.post(
        "/api/v1/auth/register",
        json={
            "email": email,
            "password": "a long password 1",
            "display_name": "Victim",
        },
    )
    assert made.status_code == 201, made.text
    token = made.json()["access_token"]
    me = (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert [w["id"] for w in me["workspaces"]] == [made.json()["workspace_id"]]
    assert me["default_workspace_id"] == made.json()["workspace_id"] != mallory.workspace_id
    pending = await client.get("/api/v1/invitations", headers={"Authorization": f"Bearer {token}"})
    assert [i["workspace_id"] for i in pending.json()] == [mallory.workspace_id]


async def test_the_default_workspace_is_picked_by_its_member(client: httpx.AsyncClient) -> None:
    team = await new_team(client)
    viewer, owner = team["viewer"], team["owner"]
    me = (await client.get("/api/v1/me", headers=bearer(viewer))).json()
    own = me["default_workspace_id"]
    assert own != owner.workspace_id
    picked = await client.put(
        "/api/v1/me/default-workspace",
        json={"workspace_id": owner.workspace_id},
        headers=bearer(viewer),
    )
    assert picked.status_code == 200 and picked.json()["default_workspace_id"] == owner.workspace_id
    login = await client.post(
        "/api/v1/auth/login", json={"email": viewer.email, "password": viewer.password}
    )
    assert login.json()["workspace_id"] == owner.workspace_id
    outsider = await register(client, "outsider")
    refused = await client.put(
        "/api/v1/me/default-workspace",
        json={"workspace_id": outsider.workspace_id},
        headers=bearer(viewer),
    )
    assert refused.status_code == 404 and error_code(refused) == "workspace_not_found"


async def test_members_are_managed_and_the_last_owner_stays(client: httpx.AsyncClient) -> None:
    team = await new_team(client)
    owner, admin, editor, viewer = (team[r] for r in ("owner", "admin", "editor", "viewer"))
    ws = owner.workspace_id
    ids = {
        m["email"]: m["user_id"]
        for m in (
            await client.get(f"/api/v1/workspaces/{ws}/members", headers=owner.headers())
        ).json()["items"]
    }

    def member_url(who: Account) -> str:
        return f"/api/v1/workspaces/{ws}/members/{ids[who.email]}"

    # A viewer (or an editor) changes no one's role.
    for low in (viewer, editor):
        refused = await client.patch(
            member_url(editor), json={"role": "admin"}, headers=low.headers()
        )
        assert refused.status_code == 403 and error_code(refused) == "forbidden"
    # An admin changes an editor's role, but never an owner's.
    changed = await client.patch(
        member_url(editor), json={"role": "viewer"}, headers=admin.headers()
    )
    assert changed.status_code == 200 and changed.json()["role"] == "viewer"
    on_owner = await client.patch(
        member_url(owner), json={"role": "viewer"}, headers=admin.headers()
    )
    assert on_owner.status_code == 403 and error_code(on_owner) == "owner_required"
    # Ownership is not handed out through a role change.
    to_owner = await client.patch(
        member_url(editor), json={"role": "owner"}, headers=owner.headers()
    )
    assert to_owner.status_code == 422
    # The last owner neither demotes themself nor leaves.
    demote = await client.patch(member_url(owner), json={"role": "admin"}, headers=owner.headers())
    assert demote.status_code == 409 and error_code(demote) == "last_owner"
    leave = await client.post(f"/api/v1/workspaces/{ws}/leave", headers=owner.headers())
    assert leave.status_code == 409 and error_code(leave) == "last_owner"
    # An admin removes a member; the member's next request there is 404.
    removed = await client.delete(member_url(editor), headers=admin.headers())
    assert removed.status_code == 204
    gone = await client.get(f"/api/v1/workspaces/{ws}", headers=editor.headers())
    assert gone.status_code == 404
    again = await client.delete(member_url(editor), headers=admin.headers())
    assert again.status_code == 404 and error_code(again) == "member_not_found"
    # Only an owner transfers ownership; then the old owner is an admin and may leave.
    refused = await client.post(
        f"/api/v1/workspaces/{ws}/transfer-ownership",
        json={"user_id": ids[admin.email]},
        headers=admin.headers(),
    )
    assert refused.status_code == 403
    moved = await client.post(
        f"/api/v1/workspaces/{ws}/transfer-ownership",
        json={"user_id": ids[admin.email]},
        headers=owner.headers(),
    )
    assert moved.status_code == 200 and moved.json()["role"] == "owner"
    assert await members(client, admin) == {
        owner.email: "admin",
        admin.email: "owner",
        viewer.email: "viewer",
    }
    left = await client.post(f"/api/v1/workspaces/{ws}/leave", headers=owner.headers())
    assert left.status_code == 204
    # A viewer leaves too.
    assert (
        await client.post(f"/api/v1/workspaces/{ws}/leave", headers=viewer.headers())
    ).status_code == 204
    assert await members(client, admin) == {admin.email: "owner"}
    actions = await audit_actions(client, admin)
    for action, outcome in [
        ("PATCH /api/v1/workspaces/{workspace_id}/members/{user_id}", "success"),
        ("PATCH /api/v1/workspaces/{workspace_id}/members/{user_id}", "denied"),
        ("DELETE /api/v1/workspaces/{workspace_id}/members/{user_id}", "success"),
        ("POST /api/v1/workspaces/{workspace_id}/transfer-ownership", "success"),
        ("POST /api/v1/workspaces/{workspace_id}/leave", "success"),
        ("POST /api/v1/workspaces/{workspace_id}/leave", "failed"),
    ]:
        assert (action, outcome) in actions, (action, outcome)


async def test_an_api_key_neither_invites_nor_leaves(client: httpx.AsyncClient) -> None:
    owner = await register(client, "owner")
    made = await client.post(
        "/api/v1/api-keys", json={"name": "ci", "role": "admin"}, headers=owner.headers()
    )
    key = {"X-API-Key": made.json()["key"]}
    ws = owner.workspace_id
    invited = await client.post(
        f"/api/v1/workspaces/{ws}/members",
        json={"email": "someone@example.com", "role": "viewer"},
        headers=key,
    )
    left = await client.post(f"/api/v1/workspaces/{ws}/leave", headers=key)
    for refused in (invited, left):
        assert refused.status_code == 403 and error_code(refused) == "user_required"
    assert await members(client, owner) == {owner.email: "owner"}
