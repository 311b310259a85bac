"""SQL of accounts. Every function takes the connection; none commits (the service owns the
transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from rivergen.pagination import after_cursor

# An asyncpg Record, typed by what callers use of it.
Row = Mapping[str, Any]


async def create_organization(conn: asyncpg.Connection, name: str) -> UUID:
    org: UUID = await conn.fetchval(
        "INSERT INTO organizations (name) VALUES ($1) RETURNING id", name
    )
    return org


async def create_user(
    conn: asyncpg.Connection, email: str, display_name: str, password_hash: str, org: UUID
) -> UUID | None:
    """The new user's id, or None when the email is taken (case-insensitively)."""
    user: UUID | None = await conn.fetchval(
        "INSERT INTO users (email, display_name, password_hash, personal_organization_id) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (lower(email)) DO NOTHING RETURNING id",
        email,
        display_name,
        password_hash,
        org,
    )
    return user


async def user_by_email(conn: asyncpg.Connection, email: str) -> Row | None:
    row: Row | None = await conn.fetchrow(
        "SELECT id, email, display_name, password_hash, personal_organization_id "
        "FROM users WHERE lower(email) = lower($1)",
        email,
    )
    return row


async def user_by_id(conn: asyncpg.Connection, user_id: UUID) -> Row | None:
    row: Row | None = await conn.fetchrow(
        "SELECT id, email, display_name, personal_organization_id FROM users WHERE id = $1",
        user_id,
    )
    return row


async def create_workspace(
    conn: asyncpg.Connection, name: str, org: UUID | None, owner: UUID
) -> Row:
    row: Row = await conn.fetchrow(
        "INSERT INTO workspaces (name, organization_id, created_by) VALUES ($1, $2, $3) "
        "RETURNING id, name, organization_id, created_at",
        name,
        org,
        owner,
    )
    await add_membership(conn, row["id"], owner, "owner")
    return row


async def add_membership(conn: asyncpg.Connection, workspace: UUID, user: UUID, role: str) -> bool:
    """False when the user is already a member (their role is left as it is)."""
    status: str = await conn.execute(
        "INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING",
        workspace,
        user,
        role,
    )
    return status.endswith(" 1")


async def members_page(
    conn: asyncpg.Connection,
    workspace: UUID,
    after: tuple[datetime | None, UUID | None],
    limit: int,
) -> list[Row]:
    """Up to ``limit + 1`` members of the workspace, newest first, after the cursor's
    ``(created_at, id)``; ``id`` is the user's."""
    rows: list[Row] = await conn.fetch(
        "SELECT * FROM (SELECT m.user_id AS id, u.email, u.display_name, m.role, m.created_at "
        "FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $3) members "
        f"WHERE {after_cursor(1)} ORDER BY created_at DESC, id DESC LIMIT $4",
        after[0],
        after[1],
        workspace,
        limit + 1,
    )
    return rows


async def member_row(conn: asyncpg.Connection, workspace: UUID, user: UUID) -> Row | None:
    row: Row | None = await conn.fetchrow(
        "SELECT m.user_id AS id, u.email, u.display_name, m.role, m.created_at "
        "FROM memberships m JOIN users u ON u.id = m.user_id "
        "WHERE m.workspace_id = $1 AND m.user_id = $2",
        workspace,
        user,
    )
    return row


async def member_by_email(conn: asyncpg.Connection, workspace: UUID, email: str) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id "
        "WHERE m.workspace_id = $1 AND lower(u.email) = lower($2))",
        workspace,
        email,
    )
    return found


async def role_in(conn: asyncpg.Connection, user: UUID, workspace: UUID) -> str | None:
    role: str | None = await conn.fetchval(
        "SELECT role FROM memberships WHERE user_id = $1 AND workspace_id = $2", user, workspace
    )
    return role


async def workspaces_of(conn: asyncpg.Connection, user: UUID) -> list[Row]:
    rows: list[Row] = await conn.fetch(
        "SELECT w.id, w.name, w.organization_id, w.created_at, m.role "
        "FROM memberships m JOIN workspaces w ON w.id = m.workspace_id "
        "WHERE m.user_id = $1 ORDER BY w.created_at, w.id",
        user,
    )
    return rows


async def workspace_for_member(conn: asyncpg.Connection, workspace: UUID, user: UUID) -> Row | None:
    row: Row | None = await conn.fetchrow(
        "SELECT w.id, w.name, w.organization_id, w.created_at, m.role "
        "FROM workspaces w JOIN memberships m ON m.workspace_id = w.id AND m.user_id = $2 "
        "WHERE w.id = $1",
        workspace,
        user,
    )
    return row


async def workspace_row(conn: asyncpg.Connection, workspace: UUID) -> Row | None:
    row: Row | None = await conn.fetchrow(
        "SELECT id, name, organization_id, created_at FROM workspaces WHERE id = $1", workspace
    )
    return row


async def create_invitation(
    conn: asyncpg.Connection, workspace: UUID, email: str, role: str, invited_by: UUID
) -> UUID:
    """The pending invitation of ``email`` to ``workspace`` (one at a time; inviting again
    changes its role)."""
    invitation: UUID = await conn.fetchval(
        "INSERT INTO invitations (workspace_id, email, role, invited_by) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (workspace_id, lower(email)) "
        "WHERE accepted_at IS NULL AND declined_at IS NULL "
        "DO UPDATE SET role = EXCLUDED.role RETURNING id",
        workspace,
        email,
        role,
        invited_by,
    )
    return invitation


async def pending_invitations(conn: asyncpg.Connection, email: str) -> list[Row]:
    rows: list[Row] = await conn.fetch(
        "SELECT i.id, i.workspace_id, w.name AS workspace_name, i.role, "
        "u.display_name AS invited_by, i.created_at "
        "FROM invitations i JOIN workspaces w ON w.id = i.workspace_id "
        "JOIN users u ON u.id = i.invited_by "
        "WHERE lower(i.email) = lower($1) AND i.accepted_at IS NULL AND i.declined_at IS NULL "
        "ORDER BY i.created_at DESC, i.id DESC",
        email,
    )
    return rows


async def answer_invitation(
    conn: asyncpg.Connection, invitation: UUID, email: str, accept: bool
) -> Row | None:
    """Mark ``email``'s pending invitation accepted or declined; None when there is no such
    pending invitation for that email."""
    column = "accepted_at" if accept else "declined_at"
    row: Row | None = await conn.fetchrow(
        f"UPDATE invitations SET {column} = now() "
        "WHERE id = $1 AND lower(email) = lower($2) AND accepted_at IS NULL "
        "AND declined_at IS NULL RETURNING workspace_id, role",
        invitation,
        email,
    )
    return row


async def owners_for_update(conn: asyncpg.Connection, workspace: UUID) -> list[UUID]:
    """The workspace's owners, their rows locked: two changes of ownership never both pass the
    last-owner check."""
    rows = await conn.fetch(
        "SELECT user_id FROM memberships WHERE workspace_id = $1 AND role = 'owner' "
        "ORDER BY user_id FOR UPDATE",
        workspace,
    )
    return [r["user_id"] for r in rows]


async def set_role(conn: asyncpg.Connection, workspace: UUID, user: UUID, role: str) -> bool:
    status: str = await conn.execute(
        "UPDATE memberships SET role = $3 WHERE workspace_id = $1 AND user_id = $2",
        workspace,
        user,
        role,
    )
    return status.endswith(" 1")


async def remove_membership(conn: asyncpg.Connection, workspace: UUID, user: UUID) -> bool:
    status: str = await conn.execute(
        "DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2", workspace, user
    )
    if status.endswith(" 1"):
        await conn.execute(
            "UPDATE users SET default_workspace_id = NULL "
            "WHERE id = $1 AND default_workspace_id = $2",
            user,
            workspace,
        )
    return status.endswith(" 1")


async def default_workspace(conn: asyncpg.Connection, user: UUID) -> UUID | None:
    """Where the user's sign-ins land: the one they picked (their personal one from the
    start) while they are a member of it, else their oldest workspace of their own, else
    their oldest membership."""
    workspace: UUID | None = await conn.fetchval(
        "SELECT m.workspace_id FROM memberships m JOIN workspaces w ON w.id = m.workspace_id "
        "JOIN users u ON u.id = m.user_id WHERE m.user_id = $1 "
        "ORDER BY (w.id = u.default_workspace_id) DESC, "
        "(w.organization_id = u.personal_organization_id) DESC, w.created_at, w.id LIMIT 1",
        user,
    )
    return workspace


async def set_default_workspace(conn: asyncpg.Connection, user: UUID, workspace: UUID) -> None:
    await conn.execute("UPDATE users SET default_workspace_id = $2 WHERE id = $1", user, workspace)


async def is_operator(conn: asyncpg.Connection, user: UUID, emails: list[str]) -> bool:
    """Whether ``user`` is a platform operator: granted in the table, or their email is one of
    ``emails`` (normalized, lower-case)."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM platform_operators WHERE user_id = $1) "
        "OR EXISTS (SELECT 1 FROM users WHERE id = $1 AND lower(email) = ANY($2::text[]))",
        user,
        emails,
    )
    return found


async def grant_operator(conn: asyncpg.Connection, email: str, granted_by: str) -> UUID | None:
    """Make the account of ``email`` a platform operator; None when no account has it."""
    user: UUID | None = await conn.fetchval(
        "INSERT INTO platform_operators (user_id, granted_by) "
        "SELECT id, $2 FROM users WHERE lower(email) = lower($1) "
        "ON CONFLICT (user_id) DO UPDATE SET granted_by = platform_operators.granted_by "
        "RETURNING user_id",
        email,
        granted_by,
    )
    return user


async def revoke_operator(conn: asyncpg.Connection, email: str) -> bool:
    status: str = await conn.execute(
        "DELETE FROM platform_operators WHERE user_id = "
        "(SELECT id FROM users WHERE lower(email) = lower($1))",
        email,
    )
    return status.endswith(" 1")


async def operators(conn: asyncpg.Connection) -> list[Row]:
    rows: list[Row] = await conn.fetch(
        "SELECT u.email, o.granted_by, o.granted_at FROM platform_operators o "
        "JOIN users u ON u.id = o.user_id ORDER BY o.granted_at, u.email"
    )
    return rows


async def plan_of(conn: asyncpg.Connection, workspace: UUID) -> str | None:
    plan: str | None = await conn.fetchval(
        "SELECT o.plan FROM workspaces w JOIN organizations o ON o.id = w.organization_id "
        "WHERE w.id = $1",
        workspace,
    )
    return plan


# Refresh tokens ---------------------------------------------------------------------------


async def insert_refresh_token(
    conn: asyncpg.Connection, user: UUID, family: UUID, token_hash: str, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at) "
        "VALUES ($1, $2, $3, $4)",
        user,
        family,
        token_hash,
        expires_at,
    )


async def refresh_token_for_update(conn: asyncpg.Connection, token_hash: str) -> Row | None:
    row: Row | None = await conn.fetchrow(
        "SELECT id, user_id, family_id, expires_at, replaced_at, revoked_at "
        "FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
        token_hash,
    )
    return row


async def mark_replaced(conn: asyncpg.Connection, token_id: UUID) -> None:
    await conn.execute("UPDATE refresh_tokens SET replaced_at = now() WHERE id = $1", token_id)


async def revoke_family(conn: asyncpg.Connection, family: UUID) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
        family,
    )


# API keys --------------------------------------------------------------------------------


async def insert_api_key(
    conn: asyncpg.Connection,
    workspace: UUID,
    name: str,
    prefix: str,
    key_hash: str,
    role: str,
    created_by: UUID,
) -> Row:
    row: Row = await conn.fetchrow(
        "INSERT INTO api_keys (workspace_id, name, prefix, key_hash, role, created_by) "
        "VALUES ($1, $2, $3, $4, $5, $6) "
        "RETURNING id, name, prefix, role, created_at, last_used_at, revoked_at",
        workspace,
        name,
        prefix,
        key_hash,
        role,
        created_by,
    )
    return row


async def api_keys_of(conn: asyncpg.Connection, workspace: UUID) -> list[Row]:
    rows: list[Row] = await conn.fetch(
        "SELECT id, name, prefix, role, created_at, last_used_at, revoked_at FROM api_keys "
        "WHERE workspace_id = $1 ORDER BY created_at, id",
        workspace,
    )
    return rows


async def revoke_api_key(conn: asyncpg.Connection, workspace: UUID, key: UUID) -> bool:
    status: str = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() "
        "WHERE id = $1 AND workspace_id = $2 AND revoked_at IS NULL",
        key,
        workspace,
    )
    return status.endswith(" 1")


async def api_key_by_hash(conn: asyncpg.Connection, key_hash: str) -> Row | None:
    """A live key by hash, stamping its last use (at most once a minute, to spare writes)."""
    row: Row | None = await conn.fetchrow(
        "UPDATE api_keys SET last_used_at = now() "
        "WHERE key_hash = $1 AND revoked_at IS NULL "
        "AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute') "
        "RETURNING id, workspace_id, role",
        key_hash,
    )
    if row is None:
        row = await conn.fetchrow(
            "SELECT id, workspace_id, role FROM api_keys "
            "WHERE key_hash = $1 AND revoked_at IS NULL",
            key_hash,
        )
    return row


# Audit -----------------------------------------------------------------------------------


async def insert_audit(conn: asyncpg.Connection, entry: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO audit_log (workspace_id, actor_type, actor_id, action, method, path, "
        "status, outcome, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        entry["workspace_id"],
        entry["actor_type"],
        entry["actor_id"],
        entry["action"],
        entry["method"],
        entry["path"],
        entry["status"],
        entry["outcome"],
        entry["request_id"],
    )


async def audit_page(
    conn: asyncpg.Connection, workspace: UUID, limit: int, before: int | None
) -> list[Row]:
    rows: list[Row] = await conn.fetch(
        "SELECT id, occurred_at, actor_type, actor_id, action, method, path, status, outcome, "
        "request_id FROM audit_log WHERE workspace_id = $1 AND ($2::bigint IS NULL OR id < $2) "
        "ORDER BY id DESC LIMIT $3",
        workspace,
        before,
        limit,
    )
    return rows
