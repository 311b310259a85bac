"""The gateway's hot path of authentication: who is calling, their role, their plan.

It runs in the gateway itself (a JWT check, a session read in Redis App, the caller's role from
Redis App's membership cache or a query through PgBouncer), so a request costs no extra hop;
account management lives in Backend Core.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from uuid import UUID

from rivergen.accounts import store
from rivergen.accounts.credentials import TokenSigner, hash_secret, parse_api_key
from rivergen.accounts.principal import Principal
from rivergen.acl import Role
from rivergen.billing.plans import Plan, plan_for
from rivergen.cache import MembershipCache, SessionStore
from rivergen.db import Database
from rivergen.errors import Unauthorized
from rivergen.ratelimit import normalize_email

_PLAN_CACHE_S = 60.0


class Gatekeeper:
    def __init__(
        self,
        db: Database,
        sessions: SessionStore,
        signer: TokenSigner,
        operators: Sequence[str] = (),
        memberships: MembershipCache | None = None,
    ) -> None:
        self._db = db
        self._memberships = memberships or MembershipCache(None)
        self._operator_emails = [normalize_email(e) for e in operators]
        self._sessions = sessions
        self._signer = signer
        self._plans: dict[UUID, tuple[float, Plan]] = {}

    async def authenticate(self, credential: str) -> Principal:
        """A bearer access token or an API key, or Unauthorized."""
        if parse_api_key(credential) is not None:
            return await self._authenticate_api_key(credential)
        claims = self._signer.verify(credential)
        session = await self._sessions.get(claims.sid)
        if session is None or session.user_id != claims.sub:
            raise Unauthorized("the session has ended; sign in again", code="session_expired")
        return Principal(
            user_id=uuid.UUID(claims.sub),
            session_id=claims.sid,
            default_workspace=uuid.UUID(claims.ws) if claims.ws else None,
        )

    async def _authenticate_api_key(self, key: str) -> Principal:
        async with self._db.transaction() as conn:
            row = await store.api_key_by_hash(conn, hash_secret(key))
        if row is None:
            raise Unauthorized("unknown or revoked API key", code="invalid_api_key")
        return Principal(
            api_key_id=row["id"], default_workspace=row["workspace_id"], key_role=Role[row["role"]]
        )

    async def role_in(self, principal: Principal, workspace: UUID) -> Role | None:
        if principal.user_id is None:
            return principal.key_role if workspace == principal.default_workspace else None
        user = principal.user_id

        async def load() -> str | None:
            async with self._db.transaction() as conn:
                return await store.role_in(conn, user, workspace)

        role = await self._memberships.role(user, workspace, load)
        return Role[role] if role else None

    async def is_operator(self, principal: Principal) -> bool:
        """Whether the caller is a platform operator: a person granted the role (`rivergen
        operators add`) or named in the setting. An API key never is."""
        if principal.user_id is None:
            return False
        async with self._db.transaction() as conn:
            return await store.is_operator(conn, principal.user_id, self._operator_emails)

    async def plan_of(self, workspace: UUID | None) -> Plan:
        """The plan that governs a workspace (cached for a minute per process)."""
        if workspace is None:
            return plan_for("free")
        cached = self._plans.get(workspace)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        async with self._db.transaction() as conn:
            name = await store.plan_of(conn, workspace)
        plan = plan_for(name or "free")
        self._plans[workspace] = (time.monotonic() + _PLAN_CACHE_S, plan)
        return plan
