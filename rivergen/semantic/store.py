"""SQL of the semantic layer's versions. Every function takes the connection of a tenant
transaction (row-level security applies) and never commits."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from rivergen.pagination import after_cursor


async def lock(conn: asyncpg.Connection, workspace: UUID) -> None:
    """Serialize the workspace's saves and confirmations until the transaction ends."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('semantic_layer:' || $1::text, 0))",
        str(workspace),
    )


async def current(conn: asyncpg.Connection) -> Any:
    """The newest version, or None."""
    return await conn.fetchrow(
        "SELECT * FROM semantic_layer_versions ORDER BY version DESC LIMIT 1"
    )


async def confirmed(conn: asyncpg.Connection) -> Any:
    """The newest confirmed version (what the providers use), or None."""
    return await conn.fetchrow(
        "SELECT * FROM semantic_layer_versions WHERE status = 'confirmed' "
        "ORDER BY version DESC LIMIT 1"
    )


async def insert(
    conn: asyncpg.Connection,
    workspace: UUID,
    version: int,
    source: str,
    layer: dict[str, Any],
    actor: str,
) -> Any:
    return await conn.fetchrow(
        "INSERT INTO semantic_layer_versions (id, workspace_id, version, source, layer, "
        "created_by) VALUES ($1, $2, $3, $4, $5::jsonb, $6) RETURNING *",
        uuid.uuid4(),
        workspace,
        version,
        source,
        json.dumps(layer),
        actor,
    )


async def confirm(conn: asyncpg.Connection, version: int, actor: str) -> Any:
    return await conn.fetchrow(
        "UPDATE semantic_layer_versions SET status = 'confirmed', confirmed_by = $2, "
        "confirmed_at = now() WHERE version = $1 RETURNING *",
        version,
        actor,
    )


async def page(
    conn: asyncpg.Connection, after: tuple[datetime | None, UUID | None], limit: int
) -> list[Any]:
    """Newest first, one more than ``limit`` (whether there is a next page)."""
    rows: list[Any] = await conn.fetch(
        f"SELECT * FROM semantic_layer_versions WHERE {after_cursor(1)} "
        "ORDER BY created_at DESC, id DESC LIMIT $3",
        after[0],
        after[1],
        limit + 1,
    )
    return rows


async def profiles(conn: asyncpg.Connection, datasets: list[UUID]) -> dict[UUID, Any]:
    """The kept profile of each dataset's current version, where there is one (as stored)."""
    rows = await conn.fetch(
        "SELECT d.id, p.profile FROM datasets d JOIN dataset_profiles p "
        "ON p.dataset_id = d.id AND p.version = d.current_version WHERE d.id = ANY($1::uuid[])",
        datasets,
    )
    return {r["id"]: json.loads(r["profile"]) for r in rows}
