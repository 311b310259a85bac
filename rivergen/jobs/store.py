"""SQL of jobs. Functions take the connection of a transaction and never commit. The gateway's
run in tenant transactions (row-level security applies); the supervisor's (``claim``,
``heartbeat``, ``active``) run as the platform, across workspaces."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from rivergen.engine.lineage import QueryLineage
from rivergen.jobs.schemas import ACTIVE_STATES
from rivergen.pagination import after_cursor


async def insert(
    conn: asyncpg.Connection,
    job: UUID,
    workspace: UUID,
    kind: str,
    name: str | None,
    params: dict[str, Any],
    max_attempts: int,
    actor: str,
    governance: dict[str, Any] | None = None,
) -> Any:
    """A queued job; ``governance``: what the submitter's policies make of each input
    (dataset id -> Governed as JSON), applied when the job reads it."""
    return await conn.fetchrow(
        "INSERT INTO jobs (id, workspace_id, kind, name, params, max_attempts, created_by, "
        "governance) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
        job,
        workspace,
        kind,
        name,
        json.dumps(params),
        max_attempts,
        actor,
        json.dumps(governance or {}),
    )


async def get(conn: asyncpg.Connection, job: UUID, *, lock: bool = False) -> Any:
    return await conn.fetchrow(
        "SELECT * FROM jobs WHERE id = $1" + (" FOR UPDATE" if lock else ""), job
    )


async def lock_for_result(conn: asyncpg.Connection, job: UUID, object_key: str) -> Any:
    """Lock the job's row until the transaction ends: its state, and the version its result
    object ``object_key`` is registered as (None if it is not yet), in one query."""
    return await conn.fetchrow(
        "SELECT j.state, (SELECT version FROM dataset_versions WHERE object_key = $2) "
        "AS registered FROM jobs j WHERE j.id = $1 FOR UPDATE OF j",
        job,
        object_key,
    )


async def page(
    conn: asyncpg.Connection,
    state: str | None,
    after: tuple[datetime | None, UUID | None],
    limit: int,
) -> list[Any]:
    rows: list[Any] = await conn.fetch(
        f"SELECT * FROM jobs WHERE {after_cursor(1)} AND ($3::text IS NULL OR state = $3) "
        "ORDER BY created_at DESC, id DESC LIMIT $4",
        after[0],
        after[1],
        state,
        limit + 1,
    )
    return rows


async def lock_workspace_jobs(conn: asyncpg.Connection, workspace: UUID) -> None:
    """Serialize job submissions of one workspace until the transaction ends (so two at once
    cannot both pass the concurrent-jobs quota)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 74))", str(workspace)
    )


async def count_active(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM jobs WHERE state = ANY($1::text[])", list(ACTIVE_STATES)
    )
    return count


async def request_cancel(conn: asyncpg.Connection, job: UUID) -> Any:
    return await conn.fetchrow(
        "UPDATE jobs SET cancel_requested = true WHERE id = $1 RETURNING *", job
    )


# The supervisor's side ------------------------------------------------------------------------


async def active(conn: asyncpg.Connection) -> list[UUID]:
    """Every job the supervisor should own: queued or running, oldest first."""
    rows = await conn.fetch(
        "SELECT id FROM jobs WHERE state = ANY($1::text[]) ORDER BY created_at",
        list(ACTIVE_STATES),
    )
    return [r["id"] for r in rows]


async def claim(conn: asyncpg.Connection, job: UUID) -> Any:
    """Start one more attempt of a queued or running job that is not being cancelled and has
    attempts left: running, attempts + 1. None otherwise (the caller reads why)."""
    return await conn.fetchrow(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, "
        "started_at = coalesce(started_at, now()), heartbeat_at = now() "
        "WHERE id = $1 AND state = ANY($2::text[]) AND NOT cancel_requested "
        "AND attempts < max_attempts RETURNING *",
        job,
        list(ACTIVE_STATES),
    )


async def heartbeat(conn: asyncpg.Connection, jobs: list[UUID]) -> list[UUID]:
    """Mark ``jobs`` alive; the ones whose cancellation was asked."""
    rows = await conn.fetch(
        "UPDATE jobs SET heartbeat_at = now() WHERE id = ANY($1::uuid[]) "
        "RETURNING id, cancel_requested",
        jobs,
    )
    return [r["id"] for r in rows if r["cancel_requested"]]


async def set_progress(conn: asyncpg.Connection, job: UUID, progress: float, message: str) -> bool:
    updated = await conn.fetchval(
        "UPDATE jobs SET progress = $2, message = $3, heartbeat_at = now() "
        "WHERE id = $1 AND state = 'running' RETURNING id",
        job,
        progress,
        message,
    )
    return updated is not None


async def finish(
    conn: asyncpg.Connection,
    job: UUID,
    state: str,
    *,
    message: str,
    seconds: float,
    error: dict[str, Any] | None = None,
    result: tuple[UUID, int] | None = None,
    summary: dict[str, Any] | None = None,
    lineage: QueryLineage | None = None,
) -> Any:
    """End an active job (None if it had ended already: finishing is idempotent); with the
    result's column ``lineage`` when it is known."""
    return await conn.fetchrow(
        "UPDATE jobs SET state = $2, message = $3, compute_seconds = compute_seconds + $4, "
        "error = $5, result_dataset_id = $6, result_version = $7, finished_at = now(), "
        "progress = CASE WHEN $2 = 'succeeded' THEN 100 ELSE progress END, "
        "result_summary = coalesce($9::jsonb, result_summary), "
        "column_lineage = coalesce($10::jsonb, column_lineage) "
        "WHERE id = $1 AND state = ANY($8::text[]) RETURNING *",
        job,
        state,
        message,
        seconds,
        json.dumps(error) if error else None,
        result[0] if result else None,
        result[1] if result else None,
        list(ACTIVE_STATES),
        json.dumps(summary) if summary is not None else None,
        lineage.model_dump_json() if lineage is not None else None,
    )


async def add_seconds(conn: asyncpg.Connection, job: UUID, seconds: float, message: str) -> None:
    await conn.execute(
        "UPDATE jobs SET compute_seconds = compute_seconds + $2, message = $3 WHERE id = $1",
        job,
        seconds,
        message,
    )
