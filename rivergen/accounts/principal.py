"""Who is calling, and in which workspace with which role."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from rivergen.acl import Role


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a person (by access token) or an API key."""

    user_id: UUID | None = None
    api_key_id: UUID | None = None
    session_id: str | None = None
    default_workspace: UUID | None = None
    # An API key belongs to one workspace with one role.
    key_role: Role | None = None

    @property
    def is_user(self) -> bool:
        return self.user_id is not None

    @property
    def actor(self) -> tuple[str, str]:
        if self.user_id is not None:
            return "user", str(self.user_id)
        return "api_key", str(self.api_key_id)


@dataclass(frozen=True)
class RequestContext:
    """What a route may rely on once the gateway has authorized the request."""

    principal: Principal | None
    workspace_id: UUID | None = None
    role: Role | None = None
    # A platform operator on an operators' route (rivergen.acl's "operator" access).
    operator: bool = False

    def require_workspace(self) -> UUID:
        assert self.workspace_id is not None, "the ACL guarantees a workspace for this route"
        return self.workspace_id

    def require_user(self) -> UUID:
        assert self.principal is not None and self.principal.user_id is not None
        return self.principal.user_id

    @property
    def actor(self) -> str:
        """Who acts, as records and events name them (a user id or an API key id)."""
        return self.principal.actor[1] if self.principal else "anonymous"
