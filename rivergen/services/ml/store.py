"""SQL of the model registry. Every function takes a connection inside a tenant transaction
(RLS scopes it to one workspace) and never commits."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from rivergen.pagination import after_cursor

_SUMMARY = """
SELECT m.*,
       (SELECT max(v.version) FROM model_versions v WHERE v.model_id = m.id) AS latest_version,
       (SELECT a.version FROM model_aliases a
         WHERE a.model_id = m.id AND a.alias = 'champion') AS champion
  FROM models m
"""


async def insert_model(
    conn: asyncpg.Connection,
    model: UUID,
    workspace: UUID,
    name: str,
    task: str,
    target: str,
    actor: str,
) -> Any:
    """The model named ``name``: created, or the existing one (its id may differ)."""
    await conn.execute(
        "INSERT INTO models (id, workspace_id, name, task, target, created_by) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, name) DO NOTHING",
        model,
        workspace,
        name,
        task,
        target,
        actor,
    )
    return await conn.fetchrow(_SUMMARY + "WHERE m.name = $1", name)


async def get(conn: asyncpg.Connection, model: UUID, *, lock: bool = False) -> Any:
    if lock:
        await conn.execute("SELECT 1 FROM models WHERE id = $1 FOR UPDATE", model)
    return await conn.fetchrow(_SUMMARY + "WHERE m.id = $1", model)


async def delete_if_empty(conn: asyncpg.Connection, model: UUID) -> None:
    await conn.execute(
        "DELETE FROM models WHERE id = $1 AND NOT EXISTS "
        "(SELECT 1 FROM model_versions WHERE model_id = $1)",
        model,
    )


async def page(
    conn: asyncpg.Connection, after: tuple[datetime | None, UUID | None], limit: int
) -> list[Any]:
    rows: list[Any] = await conn.fetch(
        _SUMMARY + f"WHERE {after_cursor(1, 'm')} ORDER BY m.created_at DESC, m.id DESC LIMIT $3",
        after[0],
        after[1],
        limit + 1,
    )
    return rows


async def versions(conn: asyncpg.Connection, model: UUID) -> list[Any]:
    rows: list[Any] = await conn.fetch(
        "SELECT v.*, m.name, COALESCE((SELECT array_agg(a.alias ORDER BY a.alias) "
        "FROM model_aliases a WHERE a.model_id = v.model_id AND a.version = v.version), "
        "'{}') AS aliases FROM model_versions v JOIN models m ON m.id = v.model_id "
        "WHERE v.model_id = $1 ORDER BY v.version DESC",
        model,
    )
    return rows


async def resolve(conn: asyncpg.Connection, model: UUID, version: int | str) -> int | None:
    """The version number ``version`` (a number or an alias) names, if any."""
    if isinstance(version, int) or str(version).isdigit():
        found = await conn.fetchval(
            "SELECT version FROM model_versions WHERE model_id = $1 AND version = $2",
            model,
            int(version),
        )
    else:
        found = await conn.fetchval(
            "SELECT version FROM model_aliases WHERE model_id = $1 AND alias = $2", model, version
        )
    return int(found) if found is not None else None


async def version_row(conn: asyncpg.Connection, model: UUID, version: int) -> Any:
    rows = [r for r in await versions(conn, model) if r["version"] == version]
    return rows[0] if rows else None


async def job_versions(conn: asyncpg.Connection, job: UUID) -> list[Any]:
    rows: list[Any] = await conn.fetch(
        "SELECT * FROM model_versions WHERE job_id = $1 ORDER BY candidate", job
    )
    return rows


async def next_version(conn: asyncpg.Connection, model: UUID) -> int:
    """The next version number (hold the model's row lock: :func:`get` with ``lock``)."""
    found = await conn.fetchval(
        "SELECT COALESCE(max(version), 0) FROM model_versions WHERE model_id = $1", model
    )
    return int(found) + 1


async def insert_version(
    conn: asyncpg.Connection,
    *,
    model: UUID,
    version: int,
    workspace: UUID,
    task: str,
    target: str,
    features: list[dict[str, Any]],
    dataset: UUID,
    dataset_version: int,
    params: dict[str, Any],
    metrics: dict[str, Any],
    artifact_key: str,
    job: UUID,
    candidate: int,
    actor: str,
) -> None:
    """The version records its trainer's governance: the training job's (what its input was
    read under)."""
    await conn.execute(
        "INSERT INTO model_versions (model_id, version, workspace_id, task, target, features, "
        "dataset_id, dataset_version, params, metrics, artifact_key, job_id, candidate, "
        "created_by, governance) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9::jsonb, "
        "$10::jsonb, $11, $12, $13, $14, (SELECT governance FROM jobs WHERE id = $12))",
        model,
        version,
        workspace,
        task,
        target,
        json.dumps(features),
        dataset,
        dataset_version,
        json.dumps(params),
        json.dumps(metrics),
        artifact_key,
        job,
        candidate,
        actor,
    )


async def set_alias(
    conn: asyncpg.Connection, model: UUID, workspace: UUID, alias: str, version: int
) -> None:
    await conn.execute(
        "INSERT INTO model_aliases (model_id, alias, workspace_id, version) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (model_id, alias) "
        "DO UPDATE SET version = EXCLUDED.version, updated_at = now()",
        model,
        alias,
        workspace,
        version,
    )


async def set_deployed(conn: asyncpg.Connection, model: UUID, version: int) -> None:
    await conn.execute(
        "UPDATE model_versions SET deployed = true WHERE model_id = $1 AND version = $2",
        model,
        version,
    )


async def aliases(conn: asyncpg.Connection, model: UUID) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT alias, version FROM model_aliases WHERE model_id = $1 ORDER BY alias", model
    )
    return {r["alias"]: int(r["version"]) for r in rows}
