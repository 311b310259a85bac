"""SQL of Prompt Studio. Every function takes the connection of a tenant transaction (row-level
security applies) and never commits."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from rivergen.pagination import after_cursor


def _json(items: Any) -> str:
    return json.dumps(items, default=str)


async def insert_execution(
    conn: asyncpg.Connection, execution: UUID, workspace: UUID, question: str, actor: str,
    *, governance: Any = None, rerun_of: UUID | None = None,
) -> Any:  # fmt: skip
    return await conn.fetchrow(
        "INSERT INTO prompt_executions (id, workspace_id, question, created_by, governance, "
        "rerun_of) VALUES ($1, $2, $3, $4, $5::jsonb, $6) RETURNING *",
        execution, workspace, question, actor,
        _json(governance) if governance is not None else None, rerun_of,
    )  # fmt: skip


async def record_turns(
    conn: asyncpg.Connection, execution: UUID, turns: list[Any], governance: Any = None
) -> None:
    """The turns so far, with the governance they were computed under (None: kept as is)."""
    await conn.execute(
        "UPDATE prompt_executions SET turns = $2::jsonb, "
        "governance = coalesce($3::jsonb, governance) WHERE id = $1",
        execution, _json(turns), _json(governance) if governance is not None else None,
    )  # fmt: skip


async def finish(
    conn: asyncpg.Connection, execution: UUID, *, status: str, turns: list[Any],
    steps: list[Any], pending: list[Any], answer: str | None, explanation: Any,
    provider: str | None, error: Any, governance: Any = None,
) -> Any:  # fmt: skip
    """Record how the execution ended; ``governance`` (None: kept as recorded) is what its
    turns were computed under."""
    return await conn.fetchrow(
        "UPDATE prompt_executions SET status = $2, turns = $3::jsonb, steps = $4::jsonb, "
        "pending = $5::jsonb, answer = $6, explanation = $7::jsonb, provider = $8, "
        "error = $9::jsonb, governance = coalesce($10::jsonb, governance), "
        "finished_at = CASE WHEN $2 = 'awaiting_confirmation' THEN NULL "
        "ELSE now() END WHERE id = $1 RETURNING *",
        execution, status, _json(turns), _json(steps), _json(pending), answer,
        _json(explanation) if explanation is not None else None, provider,
        _json(error) if error is not None else None,
        _json(governance) if governance is not None else None,
    )  # fmt: skip


async def get(conn: asyncpg.Connection, execution: UUID, *, lock: bool = False) -> Any:
    return await conn.fetchrow(
        "SELECT * FROM prompt_executions WHERE id = $1" + (" FOR UPDATE" if lock else ""),
        execution,
    )


async def start_confirming(conn: asyncpg.Connection, execution: UUID, actor: str) -> Any:
    return await conn.fetchrow(
        "UPDATE prompt_executions SET status = 'confirming', confirmed_by = $2, "
        "confirmed_at = now() WHERE id = $1 RETURNING *",
        execution, actor,
    )  # fmt: skip


async def page(
    conn: asyncpg.Connection, table: str, after: tuple[datetime | None, UUID | None], limit: int
) -> list[Any]:
    assert table in ("prompt_executions", "saved_prompts")
    rows: list[Any] = await conn.fetch(
        f"SELECT * FROM {table} WHERE {after_cursor(1)} "
        "ORDER BY created_at DESC, id DESC LIMIT $3",
        after[0], after[1], limit + 1,
    )  # fmt: skip
    return rows


async def existing_datasets(conn: asyncpg.Connection, datasets: list[UUID]) -> set[UUID]:
    """Which of ``datasets`` the tenant still has."""
    rows = await conn.fetch("SELECT id FROM datasets WHERE id = ANY($1::uuid[])", datasets)
    return {row["id"] for row in rows}


async def insert_saved(
    conn: asyncpg.Connection, saved: UUID, workspace: UUID, name: str, question: str, actor: str
) -> Any:
    return await conn.fetchrow(
        "INSERT INTO saved_prompts (id, workspace_id, name, question, created_by) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING *",
        saved, workspace, name, question, actor,
    )  # fmt: skip


async def delete_saved(conn: asyncpg.Connection, saved: UUID) -> bool:
    return (
        await conn.fetchval("DELETE FROM saved_prompts WHERE id = $1 RETURNING id", saved)
        is not None
    )
