"""SQL of idempotency keys. Every function takes the connection of a tenant transaction (row
level security keeps each workspace's keys to itself) and never commits."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg


@dataclass(frozen=True)
class KeyRecord:
    fingerprint: str
    status: int | None
    content_type: str | None
    body: bytes | None


async def find_live(
    conn: asyncpg.Connection, workspace: UUID, principal: str, key: str
) -> KeyRecord | None:
    """The key's record unless it has expired."""
    row = await conn.fetchrow(
        "SELECT fingerprint, response_status, response_content_type, response_body"
        " FROM idempotency_keys WHERE workspace_id = $1 AND principal = $2 AND key = $3"
        " AND expires_at > now()",
        workspace,
        principal,
        key,
    )
    if row is None:
        return None
    return KeyRecord(
        row["fingerprint"],
        row["response_status"],
        row["response_content_type"],
        row["response_body"],
    )


async def wrote_anything(conn: asyncpg.Connection) -> bool:
    """Whether the current transaction changed a row (Postgres gave it a transaction id)."""
    return bool(await conn.fetchval("SELECT pg_current_xact_id_if_assigned() IS NOT NULL"))


async def claim(
    conn: asyncpg.Connection,
    workspace: UUID,
    principal: str,
    key: str,
    fingerprint: str,
    ttl_s: int,
) -> bool:
    """Record the key (no response yet); an expired record of it is taken over.

    False when a live record exists: another request with this key committed first. A
    concurrent one still uncommitted makes this wait for it (the primary key's index).
    """
    taken = await conn.fetchval(
        "INSERT INTO idempotency_keys (workspace_id, principal, key, fingerprint, expires_at)"
        " VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))"
        " ON CONFLICT (workspace_id, principal, key) DO UPDATE"
        " SET fingerprint = EXCLUDED.fingerprint, response_status = NULL,"
        " response_content_type = NULL, response_body = NULL, created_at = now(),"
        " expires_at = EXCLUDED.expires_at"
        " WHERE idempotency_keys.expires_at <= now()"
        " RETURNING true",
        workspace,
        principal,
        key,
        fingerprint,
        float(ttl_s),
    )
    return bool(taken)


async def save_response(
    conn: asyncpg.Connection,
    workspace: UUID,
    principal: str,
    key: str,
    status: int,
    content_type: str | None,
    body: bytes,
) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET response_status = $4, response_content_type = $5,"
        " response_body = $6 WHERE workspace_id = $1 AND principal = $2 AND key = $3",
        workspace,
        principal,
        key,
        status,
        content_type,
        body,
    )


async def delete_expired(conn: asyncpg.Connection, limit: int = 1000) -> int:
    """Forget up to ``limit`` expired keys (of the transaction's workspace: row level
    security); returns how many."""
    result: str = await conn.execute(
        "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys"
        " WHERE expires_at <= now() LIMIT $1)",
        limit,
    )
    return int(result.rsplit(" ", 1)[-1])
