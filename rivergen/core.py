"""Backend Core: system account management and billing, as one service.

The gateway reaches it through :class:`BackendCorePort`: in one process (tests, bare uvicorn)
that is a :class:`BackendCore`; on Serve it is the `backend-core` deployment by handle, which
wraps the same class. Every argument and result is a pydantic model or a small frozen
dataclass, so both travel between replicas.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol
from uuid import UUID

from rivergen.accounts.credentials import TokenSigner
from rivergen.accounts.principal import Principal, RequestContext
from rivergen.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyView,
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
from rivergen.accounts.service import AccountService
from rivergen.billing import BillingService, InvoiceView, PlanView, UsageView
from rivergen.cache import MembershipCache, SessionStore
from rivergen.clients import PlatformClients
from rivergen.ratelimit import LoginThrottle


class BackendCorePort(Protocol):
    async def register(self, request: RegisterRequest) -> TokenPair: ...
    async def login(self, request: LoginRequest, address: str) -> TokenPair: ...
    async def refresh(self, request: RefreshRequest) -> TokenPair: ...
    async def logout(self, principal: Principal) -> None: ...
    async def me(self, context: RequestContext) -> MeView: ...
    async def list_workspaces(self, user: UUID) -> list[WorkspaceView]: ...
    async def create_workspace(self, user: UUID, request: WorkspaceCreate) -> WorkspaceView: ...
    async def get_workspace(self, context: RequestContext, workspace: UUID) -> WorkspaceView: ...
    async def add_member(
        self, context: RequestContext, workspace: UUID, request: MemberAdd
    ) -> MemberAdded: ...
    async def list_members(
        self, context: RequestContext, workspace: UUID, limit: int, cursor: str | None
    ) -> MemberPage: ...
    async def list_invitations(self, user: UUID) -> list[InvitationView]: ...
    async def answer_invitation(
        self, context: RequestContext, invitation: UUID, accept: bool
    ) -> WorkspaceView | None: ...
    async def change_role(
        self, context: RequestContext, workspace: UUID, member: UUID, request: MemberRoleChange
    ) -> MemberView: ...
    async def remove_member(
        self, context: RequestContext, workspace: UUID, member: UUID
    ) -> None: ...
    async def leave(self, context: RequestContext, workspace: UUID) -> None: ...
    async def transfer_ownership(
        self, context: RequestContext, workspace: UUID, request: OwnershipTransfer
    ) -> MemberView: ...
    async def set_default_workspace(self, user: UUID, workspace: UUID) -> MeView: ...
    async def create_api_key(
        self, context: RequestContext, request: ApiKeyCreate
    ) -> ApiKeyCreated: ...
    async def list_api_keys(self, context: RequestContext) -> list[ApiKeyView]: ...
    async def revoke_api_key(self, context: RequestContext, key: UUID) -> None: ...
    async def record_audit(self, entry: dict[str, Any]) -> None: ...
    async def audit_page(
        self, context: RequestContext, limit: int, before: int | None
    ) -> AuditPage: ...
    async def billing_plan(self, workspace: UUID) -> PlanView: ...
    async def billing_usage(self, workspace: UUID, period: date | None) -> UsageView: ...
    async def billing_invoices(self, workspace: UUID) -> list[InvoiceView]: ...


class BackendCore(AccountService):
    """Accounts (inherited) and billing, over one set of clients."""

    def __init__(self, clients: PlatformClients) -> None:
        settings = clients.settings
        super().__init__(
            clients.db,
            SessionStore(clients.redis_app, settings.auth.session_ttl_s),
            TokenSigner.from_settings(settings.auth),
            settings.auth,
            LoginThrottle(clients.redis_app),
            MembershipCache(clients.redis_app, settings.auth.membership_cache_s),
        )
        self._billing = BillingService(clients.db)

    async def billing_plan(self, workspace: UUID) -> PlanView:
        return await self._billing.plan(workspace)

    async def billing_usage(self, workspace: UUID, period: date | None) -> UsageView:
        return await self._billing.usage(workspace, period)

    async def billing_invoices(self, workspace: UUID) -> list[InvoiceView]:
        return await self._billing.list_invoices(workspace)
