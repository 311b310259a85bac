"""Backend Core, system account management: registration, sign-in, tokens, workspaces,
members, API keys and the audit log. Each method owns its transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from rivergen.accounts import store
from rivergen.accounts.credentials import (
    TokenSigner,
    hash_password,
    hash_secret,
    new_api_key,
    new_refresh_token,
    verify_dummy,
    verify_password,
)
from rivergen.accounts.principal import Principal, RequestContext
from rivergen.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyView,
    AuditEntry,
    AuditPage,
    LoginRequest,
    MemberAdd,
    MemberAdded,
    MemberPage,
    MemberView,
    MeView,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    WorkspaceCreate,
    WorkspaceView,
)
from rivergen.cache import SessionStore
from rivergen.db import Database
from rivergen.errors import Conflict, Forbidden, NotFound, Unauthorized
from rivergen.events import Event, Topic, add_to_outbox
from rivergen.notifications.events import MEMBER_ADDED
from rivergen.pagination import decode_cursor, encode_cursor
from rivergen.ratelimit import LoginThrottle
from rivergen.settings import AuthSettings


def _workspace_not_found(workspace: UUID) -> NotFound:
    return NotFound(f"workspace {workspace} not found", code="workspace_not_found")


class AccountService:
    def __init__(
        self,
        db: Database,
        sessions: SessionStore,
        signer: TokenSigner,
        settings: AuthSettings,
        throttle: LoginThrottle,
    ) -> None:
        self._db = db
        self._sessions = sessions
        self._signer = signer
        self._settings = settings
        self._throttle = throttle

    # Sign-up, sign-in, tokens ------------------------------------------------------------

    async def register(self, request: RegisterRequest) -> TokenPair:
        """A person's account, with its personal organization and workspace (owner)."""
        password_hash = hash_password(request.password)
        async with self._db.transaction() as conn:
            org = await store.create_organization(conn, f"{request.display_name}'s organization")
            user = await store.create_user(
                conn, str(request.email), request.display_name, password_hash, org
            )
            if user is None:
                raise Conflict("an account with this email exists", code="email_taken")
            workspace = await store.create_workspace(conn, "Personal", org, user)
            await store.accept_invitations(conn, user, str(request.email))
        return await self._start_session(user, workspace["id"])

    async def login(self, request: LoginRequest, address: str) -> TokenPair:
        """Sign in. Past 5 failures in 15 minutes for the address or the email, refused before
        the password is looked at."""
        email = str(request.email)
        await self._throttle.check(address, email)
        async with self._db.transaction() as conn:
            row = await store.user_by_email(conn, email)
            workspaces = await store.workspaces_of(conn, row["id"]) if row else []
        if row is None:
            verify_dummy(request.password)  # same cost as a real check: no user oracle
        if row is None or not verify_password(row["password_hash"], request.password):
            await self._throttle.record_failure(address, email)
            raise Unauthorized("wrong email or password", code="invalid_credentials")
        await self._throttle.reset(email)
        default = workspaces[0]["id"] if workspaces else None
        return await self._start_session(row["id"], default)

    async def _start_session(self, user: UUID, workspace: UUID | None) -> TokenPair:
        family = uuid.uuid4()
        await self._sessions.create(
            str(user),
            str(workspace) if workspace else None,
            ttl_s=self._settings.session_ttl_s,
            session_id=str(family),
        )
        return await self._issue(user, workspace, family)

    async def _issue(self, user: UUID, workspace: UUID | None, family: UUID) -> TokenPair:
        refresh = new_refresh_token()
        expires = datetime.now(UTC) + timedelta(seconds=self._settings.refresh_token_ttl_s)
        async with self._db.transaction() as conn:
            await store.insert_refresh_token(conn, user, family, hash_secret(refresh), expires)
        access = self._signer.issue(
            str(user), str(workspace) if workspace else None, session_id=str(family)
        )
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            expires_in=self._settings.access_token_ttl_s,
            workspace_id=workspace or uuid.UUID(int=0),
        )

    async def refresh(self, request: RefreshRequest) -> TokenPair:
        """Rotate: the token is spent and replaced. Reusing a spent token revokes its family
        (every token of that sign-in, and the session)."""
        async with self._db.transaction() as conn:
            row = await store.refresh_token_for_update(conn, hash_secret(request.refresh_token))
            if row is None:
                raise Unauthorized("unknown refresh token", code="invalid_token")
            if row["replaced_at"] is not None or row["revoked_at"] is not None:
                await store.revoke_family(conn, row["family_id"])
                reused = True
            else:
                reused = False
                if row["expires_at"] <= datetime.now(UTC):
                    raise Unauthorized("the refresh token has expired", code="token_expired")
                await store.mark_replaced(conn, row["id"])
            workspaces = await store.workspaces_of(conn, row["user_id"])
        if reused:
            await self._sessions.revoke(str(row["family_id"]))
            raise Unauthorized("the refresh token was already used", code="token_reused")
        session = await self._sessions.get(str(row["family_id"]))
        if session is None:
            raise Unauthorized("the session has ended; sign in again", code="session_expired")
        default = workspaces[0]["id"] if workspaces else None
        return await self._issue(row["user_id"], default, row["family_id"])

    async def logout(self, principal: Principal) -> None:
        if principal.session_id is None:
            return
        async with self._db.transaction() as conn:
            await store.revoke_family(conn, uuid.UUID(principal.session_id))
        await self._sessions.revoke(principal.session_id)

    # Workspaces and members --------------------------------------------------------------

    async def me(self, context: RequestContext) -> MeView:
        principal = context.principal
        assert principal is not None
        if principal.user_id is None:
            return MeView(
                user_id=None, email=None, display_name=None, api_key_id=principal.api_key_id,
                workspace_id=principal.default_workspace,
                role=principal.key_role.name if principal.key_role else None, workspaces=[],
            )  # fmt: skip
        async with self._db.transaction() as conn:
            user = await store.user_by_id(conn, principal.user_id)
            rows = await store.workspaces_of(conn, principal.user_id)
        if user is None:
            raise Unauthorized("the account no longer exists", code="invalid_token")
        workspaces = [WorkspaceView(**dict(r)) for r in rows]
        current = context.workspace_id or principal.default_workspace
        role = next((w.role for w in workspaces if w.id == current), None)
        return MeView(
            user_id=user["id"], email=user["email"], display_name=user["display_name"],
            workspace_id=current, role=role, workspaces=workspaces,
        )  # fmt: skip

    async def list_workspaces(self, user: UUID) -> list[WorkspaceView]:
        async with self._db.transaction() as conn:
            rows = await store.workspaces_of(conn, user)
        return [WorkspaceView(**dict(r)) for r in rows]

    async def create_workspace(self, user: UUID, request: WorkspaceCreate) -> WorkspaceView:
        async with self._db.transaction() as conn:
            person = await store.user_by_id(conn, user)
            assert person is not None
            row = await store.create_workspace(
                conn, request.name, person["personal_organization_id"], user
            )
        return WorkspaceView(**dict(row), role="owner")

    async def get_workspace(self, context: RequestContext, workspace: UUID) -> WorkspaceView:
        async with self._db.transaction(str(workspace)) as conn:
            row = await store.workspace_row(conn, workspace)
        if row is None or context.role is None:
            raise _workspace_not_found(workspace)
        return WorkspaceView(**dict(row), role=context.role.name)

    async def add_member(
        self, context: RequestContext, workspace: UUID, request: MemberAdd
    ) -> MemberAdded:
        inviter = context.require_user()
        async with self._db.transaction() as conn:
            user = await store.user_by_email(conn, str(request.email))
            if user is not None:
                await store.add_membership(conn, workspace, user["id"], request.role)
                # The new member hears of it in their own room (rivergen.notifications).
                await add_to_outbox(conn, Topic.NOTIFICATIONS, Event(
                    type=MEMBER_ADDED, workspace_id=workspace, actor=context.actor,
                    data={"user_id": str(user["id"]), "workspace_id": str(workspace),
                          "role": request.role},
                ))  # fmt: skip
                return MemberAdded(
                    status="member", email=str(request.email), role=request.role,
                    user_id=user["id"],
                )  # fmt: skip
            invitation = await store.create_invitation(
                conn, workspace, str(request.email), request.role, inviter
            )
        return MemberAdded(
            status="invited", email=str(request.email), role=request.role,
            invitation_id=invitation,
        )  # fmt: skip

    async def list_members(
        self, context: RequestContext, workspace: UUID, limit: int, cursor: str | None
    ) -> MemberPage:
        """The workspace's members with their roles, newest first."""
        if context.role is None:
            raise _workspace_not_found(workspace)
        after = decode_cursor(cursor)
        async with self._db.transaction(str(workspace)) as conn:
            rows = await store.members_page(conn, workspace, after, limit)
        return MemberPage(
            items=[
                MemberView(
                    user_id=r["id"],
                    email=r["email"],
                    display_name=r["display_name"],
                    role=r["role"],
                    joined_at=r["created_at"],
                )
                for r in rows[:limit]
            ],
            next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
        )

    # API keys ----------------------------------------------------------------------------

    async def create_api_key(self, context: RequestContext, request: ApiKeyCreate) -> ApiKeyCreated:
        workspace = context.require_workspace()
        if context.principal is None or context.principal.user_id is None:
            raise Forbidden("API keys are created by a signed-in person", code="user_required")
        creator = context.principal.user_id
        key, prefix = new_api_key()
        async with self._db.transaction(str(workspace)) as conn:
            row = await store.insert_api_key(
                conn, workspace, request.name, prefix, hash_secret(key), request.role, creator
            )
        return ApiKeyCreated(**dict(row), key=key)

    async def list_api_keys(self, context: RequestContext) -> list[ApiKeyView]:
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            rows = await store.api_keys_of(conn, workspace)
        return [ApiKeyView(**dict(r)) for r in rows]

    async def revoke_api_key(self, context: RequestContext, key: UUID) -> None:
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            if not await store.revoke_api_key(conn, workspace, key):
                raise NotFound(f"API key {key} not found", code="api_key_not_found")

    # Audit -------------------------------------------------------------------------------

    async def record_audit(self, entry: dict[str, Any]) -> None:
        async with self._db.transaction() as conn:
            await store.insert_audit(conn, entry)

    async def audit_page(
        self, context: RequestContext, limit: int, before: int | None
    ) -> AuditPage:
        workspace = context.require_workspace()
        async with self._db.transaction() as conn:
            rows = await store.audit_page(conn, workspace, limit, before)
        items = [AuditEntry(**dict(r)) for r in rows]
        next_before = items[-1].id if len(items) == limit else None
        return AuditPage(items=items, next_before=next_before)
