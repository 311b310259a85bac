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
    conn: asyncpg.Connection,
    execution: UUID,
    workspace: UUID,
    question: str,
    actor: str,
    *,
    governance: Any = None,
    rerun_of: UUID | None = None,
    conversation: UUID | None = None,
) -> Any:
    return await conn.fetchrow(
        "INSERT INTO prompt_executions (id, workspace_id, question, created_by, governance, "
        "rerun_of, conversation_id) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) RETURNING *",
        execution,
        workspace,
        question,
        actor,
        _json(governance) if governance is not None else None,
        rerun_of,
        conversation,
    )


async def insert_conversation(
    conn: asyncpg.Connection, conversation: UUID, workspace: UUID, title: str, actor: str
) -> Any:
    return await conn.fetchrow(
        "INSERT INTO prompt_conversations (id, workspace_id, title, created_by) "
        "VALUES ($1, $2, $3, $4) RETURNING *",
        conversation,
        workspace,
        title,
        actor,
    )


async def touch_conversation(conn: asyncpg.Connection, conversation: UUID) -> Any:
    """The conversation, its last change now; None if the tenant has none of that id."""
    return await conn.fetchrow(
        "UPDATE prompt_conversations SET updated_at = now() WHERE id = $1 RETURNING *",
        conversation,
    )


_CONVERSATIONS = (
    "SELECT c.*, (SELECT count(*) FROM prompt_executions e WHERE e.conversation_id = c.id) "
    "AS turn_count, (SELECT e.id FROM prompt_executions e WHERE e.conversation_id = c.id "
    "ORDER BY e.created_at DESC, e.id DESC LIMIT 1) AS last_id FROM prompt_conversations c"
)


async def get_conversation(conn: asyncpg.Connection, conversation: UUID) -> Any:
    return await conn.fetchrow(f"{_CONVERSATIONS} WHERE c.id = $1", conversation)


async def page_conversations(
    conn: asyncpg.Connection, after: tuple[datetime | None, UUID | None], limit: int
) -> list[Any]:
    rows: list[Any] = await conn.fetch(
        f"{_CONVERSATIONS} WHERE {after_cursor(1, 'c')} "
        "ORDER BY c.created_at DESC, c.id DESC LIMIT $3",
        after[0],
        after[1],
        limit + 1,
    )
    return rows


async def conversation_turns(
    conn: asyncpg.Connection, conversation: UUID, last: int | None = None
) -> list[Any]:
    """The conversation's executions, oldest first (``last``: only the latest so many)."""
    rows: list[Any] = await conn.fetch(
        "SELECT * FROM (SELECT * FROM prompt_executions WHERE conversation_id = $1 "
        "ORDER BY created_at DESC, id DESC LIMIT $2) t ORDER BY created_at, id",
        conversation,
        last,
    )
    return rows


async def executions(conn: asyncpg.Connection, ids: list[UUID]) -> list[Any]:
    rows: list[Any] = await conn.fetch(
        "SELECT * FROM prompt_executions WHERE id = ANY($1::uuid[])", ids
    )
    return rows


async def record_turns(
    conn: asyncpg.Connection, execution: UUID, turns: list[Any], governance: Any = None
) -> None:
    """The turns so far, with the governance they were computed under (None: kept as is)."""
    await conn.execute(
        "UPDATE prompt_executions SET turns = $2::jsonb, "
        "governance = coalesce($3::jsonb, governance) WHERE id = $1",
        execution,
        _json(turns),
        _json(governance) if governance is not None else None,
    )


async def finish(
    conn: asyncpg.Connection,
    execution: UUID,
    *,
    status: str,
    turns: list[Any],
    steps: list[Any],
    pending: list[Any],
    answer: str | None,
    explanation: Any,
    provider: str | None,
    error: Any,
    governance: Any = None,
    reading: Any = None,
) -> Any:
    """Record how the execution ended; ``governance`` and ``reading`` (None: kept as
    recorded) are what its turns were computed under and how its question was read."""
    return await conn.fetchrow(
        "UPDATE prompt_executions SET status = $2, turns = $3::jsonb, steps = $4::jsonb, "
        "pending = $5::jsonb, answer = $6, explanation = $7::jsonb, provider = $8, "
        "error = $9::jsonb, governance = coalesce($10::jsonb, governance), "
        "reading = coalesce($11::jsonb, reading), "
        "finished_at = CASE WHEN $2 = 'awaiting_confirmation' THEN NULL "
        "ELSE now() END WHERE id = $1 RETURNING *",
        execution,
        status,
        _json(turns),
        _json(steps),
        _json(pending),
        answer,
        _json(explanation) if explanation is not None else None,
        provider,
        _json(error) if error is not None else None,
        _json(governance) if governance is not None else None,
        _json(reading) if reading is not None else None,
    )


async def get(conn: asyncpg.Connection, execution: UUID, *, lock: bool = False) -> Any:
    return await conn.fetchrow(
        "SELECT * FROM prompt_executions WHERE id = $1" + (" FOR UPDATE" if lock else ""),
        execution,
    )


async def start_confirming(conn: asyncpg.Connection, execution: UUID, actor: str) -> Any:
    return await conn.fetchrow(
        "UPDATE prompt_executions SET status = 'confirming', confirmed_by = $2, "
        "confirmed_at = now() WHERE id = $1 RETURNING *",
        execution,
        actor,
    )


async def page(
    conn: asyncpg.Connection, table: str, after: tuple[datetime | None, UUID | None], limit: int
) -> list[Any]:
    assert table in ("prompt_executions", "saved_prompts")
    rows: list[Any] = await conn.fetch(
        f"SELECT * FROM {table} WHERE {after_cursor(1)} ORDER BY created_at DESC, id DESC LIMIT $3",
        after[0],
        after[1],
        limit + 1,
    )
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
        saved,
        workspace,
        name,
        question,
        actor,
    )


async def delete_saved(conn: asyncpg.Connection, saved: UUID) -> bool:
    return (
        await conn.fetchval("DELETE FROM saved_prompts WHERE id = $1 RETURNING id", saved)
        is not None
    )
