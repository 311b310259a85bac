"""Request and response models of accounts, workspaces and API keys.

Request models forbid unknown fields: a body that tries to set `workspace_id`, `role` or
`owner_id` where the route does not take it is a 422, never silently ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from rivergen.accounts.credentials import validate_password

MemberRole = Literal["admin", "editor", "viewer"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(StrictModel):
    email: EmailStr
    password: str = Field(min_length=10, max_length=256)
    display_name: str = Field(min_length=1, max_length=120)

    @field_validator("password")
    @classmethod
    def _strong_enough(cls, value: str) -> str:
        validate_password(value)
        return value


class LoginRequest(StrictModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(StrictModel):
    refresh_token: str = Field(min_length=16, max_length=256)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    workspace_id: UUID = Field(description="The workspace the access token defaults to.")


class WorkspaceCreate(StrictModel):
    name: str = Field(min_length=1, max_length=120)


class WorkspaceView(BaseModel):
    id: UUID
    name: str
    organization_id: UUID | None
    role: str = Field(description="The caller's role in this workspace.")
    created_at: datetime


class MemberAdd(StrictModel):
    email: EmailStr
    role: MemberRole


class MemberAdded(BaseModel):
    """The same answer whether or not the email has an account: nobody learns who has one."""

    status: Literal["invited"] = Field(
        description="An invitation was recorded; the person joins once they accept it."
    )
    email: str
    role: MemberRole
    invitation_id: UUID


class InvitationView(BaseModel):
    """An invitation to the caller, waiting for their answer."""

    id: UUID
    workspace_id: UUID
    workspace_name: str
    role: MemberRole
    invited_by: str = Field(description="The inviter's display name.")
    created_at: datetime


class MemberRoleChange(StrictModel):
    role: MemberRole = Field(description="Ownership moves with `transfer-ownership` only.")


class OwnershipTransfer(StrictModel):
    user_id: UUID = Field(description="A member who becomes an owner; the caller becomes admin.")


class DefaultWorkspace(StrictModel):
    workspace_id: UUID = Field(description="A workspace the caller is a member of.")


class MemberView(BaseModel):
    """A person in a workspace and their role there."""

    user_id: UUID
    email: str
    display_name: str
    role: Literal["owner", "admin", "editor", "viewer"]
    joined_at: datetime = Field(description="When they became a member.")


class MemberPage(BaseModel):
    items: list[MemberView]
    next_cursor: str | None = None


class MeView(BaseModel):
    user_id: UUID | None = Field(description="None when the caller is an API key.")
    email: str | None
    display_name: str | None
    api_key_id: UUID | None = None
    workspace_id: UUID | None
    role: str | None
    workspaces: list[WorkspaceView]
    default_workspace_id: UUID | None = Field(
        None, description="Where sign-ins land: the personal workspace until another is picked."
    )
    operator: bool = Field(False, description="Whether the caller is a platform operator.")


class ApiKeyCreate(StrictModel):
    name: str = Field(min_length=1, max_length=120)
    role: MemberRole = "viewer"


class ApiKeyView(BaseModel):
    id: UUID
    name: str
    prefix: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyView):
    key: str = Field(description="The key itself. Shown this once; only its hash is stored.")


class AuditEntry(BaseModel):
    id: int
    occurred_at: datetime
    actor_type: str
    actor_id: str | None
    action: str
    method: str
    path: str
    status: int
    outcome: str
    request_id: str | None


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_before: int | None = Field(description="Pass as `before` for the next page.")
