"""The gateway app in-process (its real lifespan, real services), and a small client for it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from rivergen.settings import PromptSettings, Settings
from tests.platform_app import create_app


@dataclass
class Account:
    email: str
    password: str
    access_token: str
    refresh_token: str
    workspace_id: str

    def headers(self, workspace_id: str | None = None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.access_token}",
            "X-Workspace-ID": workspace_id or self.workspace_id,
        }


async def register(client: httpx.AsyncClient, name: str = "user") -> Account:
    email = f"{name}-{uuid.uuid4().hex[:10]}@example.com"
    password = f"correct horse {uuid.uuid4().hex[:6]}"
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": password, "display_name": name.title()},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return Account(
        email, password, body["access_token"], body["refresh_token"], body["workspace_id"]
    )


async def invite(client: httpx.AsyncClient, owner: Account, person: Account, role: str) -> str:
    """``owner`` invites ``person`` to their workspace; the invitation's id."""
    added = await client.post(
        f"/api/v1/workspaces/{owner.workspace_id}/members",
        json={"email": person.email, "role": role},
        headers=owner.headers(),
    )
    assert added.status_code == 201, added.text
    return str(added.json()["invitation_id"])


async def join(client: httpx.AsyncClient, owner: Account, person: Account, role: str) -> None:
    """``person`` is invited to ``owner``'s workspace and accepts (their requests go there)."""
    invitation = await invite(client, owner, person, role)
    accepted = await client.post(
        f"/api/v1/invitations/{invitation}/accept",
        headers={"Authorization": f"Bearer {person.access_token}"},
    )
    assert accepted.status_code == 200, accepted.text
    person.workspace_id = owner.workspace_id


async def add_member(
    client: httpx.AsyncClient, owner: Account, role: str, name: str | None = None
) -> Account:
    """A new person, invited to ``owner``'s workspace with ``role`` and accepting (their
    requests go there)."""
    person = await register(client, name or role)
    await join(client, owner, person, role)
    return person


async def new_team(client: httpx.AsyncClient) -> dict[str, Account]:
    """An owner's workspace with one member of every other role, by role."""
    owner = await register(client, "owner")
    members = {"owner": owner}
    for role in ("admin", "editor", "viewer"):
        members[role] = await add_member(client, owner, role)
    return members


@contextlib.asynccontextmanager
async def prompt_platform(
    settings: Settings, prompts: PromptSettings, timeout_s: float = 60
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app with ``prompts`` (rate limits off: tests ask many questions), its
    lifespan running, as a client."""
    gateway = settings.gateway.model_copy(update={"rate_limit": False})
    app = create_app(settings.model_copy(update={"prompts": prompts, "gateway": gateway}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", timeout=timeout_s
        ) as http:
            yield http
