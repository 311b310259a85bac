"""Routes of system account management: auth, me, workspaces, members, API keys, audit."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from rivergen.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyView,
    AuditPage,
    LoginRequest,
    MemberAdd,
    MemberAdded,
    MemberPage,
    MeView,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    WorkspaceCreate,
    WorkspaceView,
)
from rivergen.api.deps import PageCursor, PageLimit
from rivergen.api.security import Context, Core, authorize
from rivergen.errors import ErrorResponse

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 422, 429)
}

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], responses=ERRORS)


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, tags=["auth"])
async def register(body: RegisterRequest, accounts: Core) -> TokenPair:
    """Create an account with its personal organization and workspace, and sign in."""
    return await accounts.register(body)


@router.post("/auth/login", tags=["auth"])
async def login(body: LoginRequest, request: Request, accounts: Core) -> TokenPair:
    """Sign in; 5 wrong passwords in 15 minutes (per address or email) get 429 after that."""
    return await accounts.login(body, request.client.host if request.client else "unknown")


@router.post("/auth/refresh", tags=["auth"])
async def refresh(body: RefreshRequest, accounts: Core) -> TokenPair:
    """Trade a refresh token for a new pair; the old refresh token is spent."""
    return await accounts.refresh(body)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
async def logout(context: Context, accounts: Core) -> Response:
    assert context.principal is not None
    await accounts.logout(context.principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", tags=["auth"])
async def me(context: Context, accounts: Core) -> MeView:
    return await accounts.me(context)


@router.get("/workspaces", tags=["workspaces"])
async def list_workspaces(context: Context, accounts: Core) -> list[WorkspaceView]:
    return await accounts.list_workspaces(context.require_user())


@router.post("/workspaces", status_code=status.HTTP_201_CREATED, tags=["workspaces"])
async def create_workspace(
    body: WorkspaceCreate, context: Context, accounts: Core
) -> WorkspaceView:
    return await accounts.create_workspace(context.require_user(), body)


@router.get("/workspaces/{workspace_id}", tags=["workspaces"])
async def get_workspace(workspace_id: UUID, context: Context, accounts: Core) -> WorkspaceView:
    return await accounts.get_workspace(context, workspace_id)


@router.get("/workspaces/{workspace_id}/members", tags=["workspaces"])
async def list_members(
    workspace_id: UUID,
    context: Context,
    accounts: Core,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> MemberPage:
    """The workspace's members and their roles, newest first; follow `next_cursor`. Any
    member may read it (pending invitations are not members)."""
    return await accounts.list_members(context, workspace_id, limit, cursor)


@router.post(
    "/workspaces/{workspace_id}/members", status_code=status.HTTP_201_CREATED, tags=["workspaces"]
)
async def add_member(
    workspace_id: UUID, body: MemberAdd, context: Context, accounts: Core
) -> MemberAdded:
    """Add a user by email; an unknown email becomes an invitation (no mail is sent)."""
    return await accounts.add_member(context, workspace_id, body)


@router.get("/api-keys", tags=["api keys"])
async def list_api_keys(context: Context, accounts: Core) -> list[ApiKeyView]:
    return await accounts.list_api_keys(context)


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, tags=["api keys"])
async def create_api_key(body: ApiKeyCreate, context: Context, accounts: Core) -> ApiKeyCreated:
    """The key is in this response only; store it now."""
    return await accounts.create_api_key(context, body)


@router.delete("/api-keys/{api_key_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["api keys"])
async def revoke_api_key(api_key_id: UUID, context: Context, accounts: Core) -> Response:
    await accounts.revoke_api_key(context, api_key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/audit", tags=["audit"])
async def audit(
    context: Context,
    accounts: Core,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1, description="Entries older than this id.")] = None,
) -> AuditPage:
    """The workspace's audit log, newest first."""
    return await accounts.audit_page(context, limit, before)
