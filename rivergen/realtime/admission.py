"""Who may hold a socket, and which rooms the server puts it in.

A socket authenticates once, at connect, with ``auth: {"token": ...}``: an access token or an
API key, checked by the gateway's own :class:`~rivergen.accounts.gatekeeper.Gatekeeper` (so a
socket is refused exactly when a request would be). The server, never the client, chooses the
rooms: the caller's user room and the room of every workspace it belongs to (an API key: its one
workspace). The credential is kept with the socket and checked again periodically, so a socket
outlives neither its session nor its token nor its API key, and follows the caller's
memberships (a workspace joined since the connect is added, one left is removed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from rivergen.accounts import store
from rivergen.accounts.gatekeeper import Gatekeeper
from rivergen.accounts.principal import Principal
from rivergen.db import Database
from rivergen.errors import NotFound, RiverGenError, Unauthorized
from rivergen.notifications.rooms import user_room, workspace_room


@dataclass
class Member:
    """An admitted socket's caller: its credential (kept for the re-checks) and its rooms."""

    credential: str
    principal: Principal
    workspaces: set[UUID] = field(default_factory=set)

    @property
    def rooms(self) -> list[str]:
        own = [user_room(self.principal.user_id)] if self.principal.user_id else []
        return own + sorted(workspace_room(workspace) for workspace in self.workspaces)


def refusal(error: RiverGenError) -> dict[str, Any]:
    """The machine-readable part of a refusal, as a client receives it."""
    return {"code": error.error_code, "message": error.message}


def credential_of(auth: object) -> str:
    """The token of a connect's ``auth`` payload; Unauthorized if there is none."""
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token:
        raise Unauthorized(
            'connect with auth: {"token": "<access token or API key>"}',
            code="credentials_required",
        )
    return token


class Admission:
    """Authenticates sockets with the gateway's credentials and decides their rooms."""

    def __init__(self, gatekeeper: Gatekeeper, db: Database) -> None:
        self._gatekeeper = gatekeeper
        self._db = db

    async def admit(self, auth: object) -> Member:
        """The member behind a connect's ``auth``; Unauthorized (with the gateway's codes:
        ``credentials_required``, ``token_expired``, ``invalid_token``, ``session_expired``,
        ``invalid_api_key``) otherwise."""
        credential = credential_of(auth)
        principal = await self._gatekeeper.authenticate(credential)
        return Member(credential, principal, await self._workspaces_of(principal))

    async def recheck(self, member: Member) -> set[UUID]:
        """The member's workspaces now (a person may have been added to one since); raise
        Unauthorized if its credential no longer holds (a revoked session or API key, an
        expired token), DependencyUnavailable if that cannot be told now."""
        principal = await self._gatekeeper.authenticate(member.credential)
        return await self._workspaces_of(principal)

    async def join(self, member: Member, workspace: UUID) -> str:
        """The room of ``workspace`` if the member belongs to it; NotFound otherwise (another
        workspace is not found, never forbidden)."""
        role = await self._gatekeeper.role_in(member.principal, workspace)
        if role is None:
            raise NotFound("no such workspace", code="workspace_not_found")
        member.workspaces.add(workspace)
        return workspace_room(workspace)

    async def _workspaces_of(self, principal: Principal) -> set[UUID]:
        if principal.user_id is None:
            return {principal.default_workspace} if principal.default_workspace else set()
        async with self._db.transaction() as conn:
            rows = await store.workspaces_of(conn, principal.user_id)
        return {row["id"] for row in rows}
