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
    DefaultWorkspace,
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
from rivergen.api.deps import PageCursor, PageLimit
from rivergen.api.security import (
    Context,
    Core,
    authorize,
    client_address,
    limit_registrations,
)
from rivergen.errors import ErrorResponse

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 422, 429)
}

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], responses=ERRORS)


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, tags=["auth"])
async def register(body: RegisterRequest, request: Request, accounts: Core) -> TokenPair:
    """Create an account with its personal organization and workspace, and sign in. At most
    `RIVERGEN_AUTH__REGISTRATIONS_PER_HOUR` (10) an hour from one address: 429
    `registration_throttled` with `Retry-After` past that."""
    await limit_registrations(request, client_address(request))
    return await accounts.register(body)


@router.post("/auth/login", tags=["auth"])
async def login(body: LoginRequest, request: Request, accounts: Core) -> TokenPair:
    """Sign in. Past 5 wrong passwords for an account from one address, 10 for it from
    everywhere or 20 from one address for every account (the last two never for an address
    that signed in to the account before) in 15 minutes, each further attempt waits a delay
    that doubles (1 s to 15 minutes): 429 `login_throttled` with `Retry-After` until then."""
    return await accounts.login(body, client_address(request))


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


@router.put("/me/default-workspace", tags=["auth"])
async def set_default_workspace(body: DefaultWorkspace, context: Context, accounts: Core) -> MeView:
    """Where your sign-ins land from now on (your personal workspace until you pick another);
    404 `workspace_not_found` for one you are not a member of."""
    return await accounts.set_default_workspace(context.require_user(), body.workspace_id)


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
    """Invite a person by email (no mail is sent): they join once they accept it (`GET
    /invitations`). The answer is the same whether or not the email has an account; 409
    `already_member` for a member."""
    return await accounts.add_member(context, workspace_id, body)


@router.patch("/workspaces/{workspace_id}/members/{user_id}", tags=["workspaces"])
async def change_member_role(
    workspace_id: UUID, user_id: UUID, body: MemberRoleChange, context: Context, accounts: Core
) -> MemberView:
    """Give a member another role (admin, editor, viewer). An owner's role is changed by an
    owner only (403 `owner_required`), the last owner's never (409 `last_owner`); ownership
    moves with `transfer-ownership`. 404 `member_not_found`."""
    return await accounts.change_role(context, workspace_id, user_id, body)


@router.delete(
    "/workspaces/{workspace_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["workspaces"],
)
async def remove_member(
    workspace_id: UUID, user_id: UUID, context: Context, accounts: Core
) -> Response:
    """Take a member out. An owner is removed by an owner only, the last owner never (409
    `last_owner`)."""
    await accounts.remove_member(context, workspace_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/workspaces/{workspace_id}/leave", status_code=status.HTTP_204_NO_CONTENT, tags=["workspaces"]
)
async def leave_workspace(workspace_id: UUID, context: Context, accounts: Core) -> Response:
    """Leave the workspace; its last owner cannot (409 `last_owner`: transfer ownership
    first)."""
    await accounts.leave(context, workspace_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/workspaces/{workspace_id}/transfer-ownership", tags=["workspaces"])
async def transfer_ownership(
    workspace_id: UUID, body: OwnershipTransfer, context: Context, accounts: Core
) -> MemberView:
    """Make another member an owner; the caller, an owner, becomes an admin. 404
    `member_not_found` for someone who is not a member."""
    return await accounts.transfer_ownership(context, workspace_id, body)


@router.get("/invitations", tags=["invitations"])
async def list_invitations(context: Context, accounts: Core) -> list[InvitationView]:
    """The invitations to your email that wait for your answer, newest first."""
    return await accounts.list_invitations(context.require_user())


@router.post("/invitations/{invitation_id}/accept", tags=["invitations"])
async def accept_invitation(invitation_id: UUID, context: Context, accounts: Core) -> WorkspaceView:
    """Join the workspace with the invitation's role. Your default workspace stays as it is.
    404 `invitation_not_found` for another person's invitation or one answered already."""
    joined = await accounts.answer_invitation(context, invitation_id, accept=True)
    assert joined is not None
    return joined


@router.post(
    "/invitations/{invitation_id}/decline",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["invitations"],
)
async def decline_invitation(invitation_id: UUID, context: Context, accounts: Core) -> Response:
    """Refuse it; the workspace may invite you again."""
    await accounts.answer_invitation(context, invitation_id, accept=False)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
