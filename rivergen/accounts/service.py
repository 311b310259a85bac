"""Backend Core, system account management: registration, sign-in, tokens, workspaces,
members, API keys and the audit log. Each method owns its transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
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
    InvitationView,
    LoginRequest,
    MemberAdd,
    MemberAdded,
    MemberPage,
    MemberRoleChange,
    MemberView,
    MeView,
    OwnershipTransfer,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    WorkspaceCreate,
    WorkspaceView,
)
from rivergen.acl import Role
from rivergen.cache import MembershipCache, SessionStore
from rivergen.db import Database
from rivergen.errors import Conflict, Forbidden, NotFound, Unauthorized
from rivergen.events import Event, Topic, add_to_outbox
from rivergen.notifications.events import INVITATION_RECEIVED, MEMBER_ADDED
from rivergen.pagination import decode_cursor, encode_cursor
from rivergen.ratelimit import LoginThrottle, normalize_email
from rivergen.settings import AuthSettings


def _workspace_not_found(workspace: UUID) -> NotFound:
    return NotFound(f"workspace {workspace} not found", code="workspace_not_found")


def _member_not_found(user: UUID) -> NotFound:
    return NotFound(f"no member {user} in this workspace", code="member_not_found")


def _last_owner() -> Conflict:
    return Conflict(
        "a workspace keeps at least one owner: transfer ownership first", code="last_owner"
    )


def _person(context: RequestContext, what: str) -> UUID:
    """The signed-in person calling; an API key is refused (403 ``user_required``)."""
    if context.principal is None or context.principal.user_id is None:
        raise Forbidden(f"only a signed-in person {what}, not an API key", code="user_required")
    return context.principal.user_id


def _require_owner(context: RequestContext, what: str) -> None:
    if context.role is not Role.owner:
        raise Forbidden(f"only an owner may {what}", code="owner_required")


def _member_view(row: Mapping[str, Any]) -> MemberView:
    return MemberView(
        user_id=row["id"],
        email=row["email"],
        display_name=row["display_name"],
        role=row["role"],
        joined_at=row["created_at"],
    )


def _audit(workspace: UUID, user: UUID, action: str, path: str) -> dict[str, Any]:
    return {
        "workspace_id": workspace,
        "actor_type": "user",
        "actor_id": str(user),
        "action": action,
        "method": "POST",
        "path": path,
        "status": 200,
        "outcome": "success",
        "request_id": None,
    }


class AccountService:
    def __init__(
        self,
        db: Database,
        sessions: SessionStore,
        signer: TokenSigner,
        settings: AuthSettings,
        throttle: LoginThrottle,
        memberships: MembershipCache | None = None,
    ) -> None:
        self._db = db
        # Told of every change of memberships (the gateways cache roles).
        self._memberships = memberships or MembershipCache(None)
        self._sessions = sessions
        self._signer = signer
        self._settings = settings
        self._throttle = throttle
        self._operator_emails = [normalize_email(e) for e in settings.operators]

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
            # Invitations to this email wait for an answer (`GET /invitations`): registering
            # joins nothing, and the personal workspace is where sign-ins land.
            await store.set_default_workspace(conn, user, workspace["id"])
        return await self._start_session(user, workspace["id"])

    async def login(self, request: LoginRequest, address: str) -> TokenPair:
        """Sign in. Past its free failures, an attempt is refused before the password is looked
        at until its progressive delay has passed (:class:`~rivergen.ratelimit.LoginThrottle`)."""
        email = str(request.email)
        await self._throttle.check(address, email)
        async with self._db.transaction() as conn:
            row = await store.user_by_email(conn, email)
            default = await store.default_workspace(conn, row["id"]) if row else None
        if row is None:
            verify_dummy(request.password)  # same cost as a real check: no user oracle
        if row is None or not verify_password(row["password_hash"], request.password):
            await self._throttle.record_failure(address, email)
            raise Unauthorized("wrong email or password", code="invalid_credentials")
        await self._throttle.record_success(address, email)
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
            default = await store.default_workspace(conn, row["user_id"])
        if reused:
            await self._sessions.revoke(str(row["family_id"]))
            raise Unauthorized("the refresh token was already used", code="token_reused")
        session = await self._sessions.get(str(row["family_id"]))
        if session is None:
            raise Unauthorized("the session has ended; sign in again", code="session_expired")
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
                user_id=None,
                email=None,
                display_name=None,
                api_key_id=principal.api_key_id,
                workspace_id=principal.default_workspace,
                role=principal.key_role.name if principal.key_role else None,
                workspaces=[],
            )
        async with self._db.transaction() as conn:
            user = await store.user_by_id(conn, principal.user_id)
            rows = await store.workspaces_of(conn, principal.user_id)
            default = await store.default_workspace(conn, principal.user_id)
            operator = await store.is_operator(conn, principal.user_id, self._operator_emails)
        if user is None:
            raise Unauthorized("the account no longer exists", code="invalid_token")
        workspaces = [WorkspaceView(**dict(r)) for r in rows]
        current = context.workspace_id
        role = next((w.role for w in workspaces if w.id == current), None)
        return MeView(
            user_id=user["id"],
            email=user["email"],
            display_name=user["display_name"],
            workspace_id=current,
            role=role,
            workspaces=workspaces,
            default_workspace_id=default,
            operator=operator,
        )

    async def set_default_workspace(self, user: UUID, workspace: UUID) -> MeView:
        """Where the caller's sign-ins land from now on (a workspace they are a member of)."""
        async with self._db.transaction() as conn:
            if await store.role_in(conn, user, workspace) is None:
                raise _workspace_not_found(workspace)
            await store.set_default_workspace(conn, user, workspace)
        return await self.me(RequestContext(Principal(user_id=user), workspace))

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
        """Invite ``request.email``: the person joins once they accept. The answer is the same
        whether or not the email has an account (409 ``already_member`` for a member, whom any
        member can list anyway)."""
        inviter = _person(context, "invites")
        async with self._db.transaction(str(workspace)) as conn:
            if await store.member_by_email(conn, workspace, str(request.email)):
                raise Conflict(
                    f"{request.email} is already a member of this workspace",
                    code="already_member",
                )
            invitation = await store.create_invitation(
                conn, workspace, str(request.email), request.role, inviter
            )
            invitee = await store.user_by_email(conn, str(request.email))
            if invitee is not None:
                # Live, to the invitee's own room alone (a private type: never the workspace's
                # room nor its catch-up list, which would tell whether the email has an account).
                named = await store.workspace_row(conn, workspace)
                await add_to_outbox(
                    conn,
                    Topic.NOTIFICATIONS,
                    Event(
                        type=INVITATION_RECEIVED,
                        workspace_id=workspace,
                        actor=context.actor,
                        data={
                            "user_id": str(invitee["id"]),
                            "invitation_id": str(invitation),
                            "workspace_id": str(workspace),
                            "workspace_name": named["name"] if named else "",
                            "role": request.role,
                        },
                    ),
                )
        return MemberAdded(
            status="invited",
            email=str(request.email),
            role=request.role,
            invitation_id=invitation,
        )

    async def list_invitations(self, user: UUID) -> list[InvitationView]:
        """The invitations to the caller's email that wait for an answer, newest first."""
        async with self._db.transaction() as conn:
            person = await store.user_by_id(conn, user)
            if person is None:
                raise Unauthorized("the account no longer exists", code="invalid_token")
            rows = await store.pending_invitations(conn, person["email"])
        return [InvitationView(**dict(r)) for r in rows]

    async def answer_invitation(
        self, context: RequestContext, invitation: UUID, accept: bool
    ) -> WorkspaceView | None:
        """Accept (join the workspace with the invitation's role) or decline. Only the invitee
        answers: another person's invitation, or one answered already, is 404. Recorded in the
        inviting workspace's audit log."""
        user = context.require_user()
        async with self._db.transaction() as conn:
            person = await store.user_by_id(conn, user)
            if person is None:
                raise Unauthorized("the account no longer exists", code="invalid_token")
            row = await store.answer_invitation(conn, invitation, person["email"], accept)
            if row is None:
                raise NotFound(f"invitation {invitation} not found", code="invitation_not_found")
            workspace = row["workspace_id"]
            if accept:
                await self._memberships.changing(user)
                await store.add_membership(conn, workspace, user, row["role"])
                # The new member hears of it in their own room (rivergen.notifications).
                await add_to_outbox(
                    conn,
                    Topic.NOTIFICATIONS,
                    Event(
                        type=MEMBER_ADDED,
                        workspace_id=workspace,
                        actor=context.actor,
                        data={
                            "user_id": str(user),
                            "workspace_id": str(workspace),
                            "role": row["role"],
                        },
                    ),
                )
            await store.insert_audit(
                conn,
                _audit(
                    workspace,
                    user,
                    "invitation.accepted" if accept else "invitation.declined",
                    f"/api/v1/invitations/{invitation}/{'accept' if accept else 'decline'}",
                ),
            )
            joined = await store.workspace_for_member(conn, workspace, user) if accept else None
        if accept:
            await self._memberships.changed(user)
        return WorkspaceView(**dict(joined)) if joined else None

    async def change_role(
        self, context: RequestContext, workspace: UUID, member: UUID, request: MemberRoleChange
    ) -> MemberView:
        """Give a member another role (admin, editor or viewer). Only an owner changes an
        owner's role, and never the last owner's (409 ``last_owner``)."""
        async with self._db.transaction(str(workspace)) as conn:
            owners = await store.owners_for_update(conn, workspace)
            current = await store.member_row(conn, workspace, member)
            if current is None:
                raise _member_not_found(member)
            if member in owners:
                _require_owner(context, "change an owner's role")
                if owners == [member]:
                    raise _last_owner()
            await self._memberships.changing(member)
            await store.set_role(conn, workspace, member, request.role)
            row = await store.member_row(conn, workspace, member)
        await self._memberships.changed(member)
        assert row is not None
        return _member_view(row)

    async def remove_member(self, context: RequestContext, workspace: UUID, member: UUID) -> None:
        """Take a member out of the workspace. Only an owner removes an owner, and never the
        last one (409 ``last_owner``)."""
        async with self._db.transaction(str(workspace)) as conn:
            owners = await store.owners_for_update(conn, workspace)
            if member in owners:
                _require_owner(context, "remove an owner")
                if owners == [member]:
                    raise _last_owner()
            await self._memberships.changing(member)
            if not await store.remove_membership(conn, workspace, member):
                raise _member_not_found(member)
        await self._memberships.changed(member)

    async def leave(self, context: RequestContext, workspace: UUID) -> None:
        """The caller leaves the workspace; its last owner cannot (409 ``last_owner``: transfer
        ownership first)."""
        user = _person(context, "leaves a workspace")
        async with self._db.transaction(str(workspace)) as conn:
            owners = await store.owners_for_update(conn, workspace)
            if owners == [user]:
                raise _last_owner()
            await self._memberships.changing(user)
            if not await store.remove_membership(conn, workspace, user):
                raise _workspace_not_found(workspace)
        await self._memberships.changed(user)

    async def transfer_ownership(
        self, context: RequestContext, workspace: UUID, request: OwnershipTransfer
    ) -> MemberView:
        """Make another member the owner; the caller (an owner) becomes an admin."""
        user = context.require_user()
        async with self._db.transaction(str(workspace)) as conn:
            owners = await store.owners_for_update(conn, workspace)
            if user not in owners:
                raise Forbidden("only an owner transfers ownership", code="forbidden")
            if request.user_id == user:
                raise Conflict("you own this workspace already", code="already_owner")
            await self._memberships.changing(request.user_id, user)
            if not await store.set_role(conn, workspace, request.user_id, "owner"):
                raise _member_not_found(request.user_id)
            await store.set_role(conn, workspace, user, "admin")
            row = await store.member_row(conn, workspace, request.user_id)
        await self._memberships.changed(request.user_id, user)
        assert row is not None
        return _member_view(row)

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
            items=[_member_view(r) for r in rows[:limit]],
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
