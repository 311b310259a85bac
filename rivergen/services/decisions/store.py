"""SQL of Decision Intelligence. Every function takes the connection of a tenant transaction
(row-level security applies) and never commits."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from rivergen.pagination import after_cursor

TABLES = ("decision_guidelines", "decisions", "decision_simulations")


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def loads(value: Any) -> Any:
    """A jsonb value as Python (asyncpg returns jsonb as text without a codec)."""
    return json.loads(value) if isinstance(value, str) else value


async def insert_guideline(
    conn: asyncpg.Connection, guideline: UUID, workspace: UUID, body: dict[str, Any], actor: str
) -> Any:
    return await conn.fetchrow(
        "INSERT INTO decision_guidelines (id, workspace_id, name, description, thresholds, "
        "fallback_outcome, rules, limits, created_by) "
        "VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, $8::jsonb, $9) RETURNING *",
        guideline,
        workspace,
        body["name"],
        body["description"],
        _json(body["thresholds"]),
        body["fallback_outcome"],
        _json(body["rules"]),
        _json(body["limits"]),
        actor,
    )


async def get_guideline(conn: asyncpg.Connection, guideline: UUID) -> Any:
    return await conn.fetchrow("SELECT * FROM decision_guidelines WHERE id = $1", guideline)


async def newest_guideline(conn: asyncpg.Connection) -> Any:
    return await conn.fetchrow(
        "SELECT * FROM decision_guidelines ORDER BY created_at DESC, id DESC LIMIT 1"
    )


async def delete_guideline(conn: asyncpg.Connection, guideline: UUID) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM decision_guidelines WHERE id = $1 RETURNING id", guideline
    )
    return deleted is not None


async def insert_decision(conn: asyncpg.Connection, **row: Any) -> Any:
    return await conn.fetchrow(
        "INSERT INTO decisions (id, workspace_id, model_id, model_version, scored_by, "
        "guideline_id, dataset_id, row_index, features, score, adjusted_score, outcome, "
        "rules_applied, limits_hit, explanation, created_by, governance) VALUES ($1, $2, $3, "
        "$4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13::jsonb, $14::jsonb, $15::jsonb, $16, "
        "$17::jsonb) RETURNING *",
        row["id"],
        row["workspace_id"],
        row["model_id"],
        row["model_version"],
        row["scored_by"],
        row["guideline_id"],
        row["dataset_id"],
        row["row_index"],
        _json(row["features"]),
        row["score"],
        row["adjusted_score"],
        row["outcome"],
        _json(row["rules_applied"]),
        _json(row["limits_hit"]),
        _json(row["explanation"]),
        row["created_by"],
        _json(row["governance"]),
    )


async def get(conn: asyncpg.Connection, table: str, ident: UUID, *, lock: bool = False) -> Any:
    assert table in TABLES
    return await conn.fetchrow(
        f"SELECT * FROM {table} WHERE id = $1" + (" FOR UPDATE" if lock else ""), ident
    )


async def page(
    conn: asyncpg.Connection, table: str, after: tuple[datetime | None, UUID | None], limit: int
) -> list[Any]:
    assert table in TABLES
    rows: list[Any] = await conn.fetch(
        f"SELECT * FROM {table} WHERE {after_cursor(1)} ORDER BY created_at DESC, id DESC LIMIT $3",
        after[0],
        after[1],
        limit + 1,
    )
    return rows


async def insert_simulation(conn: asyncpg.Connection, **row: Any) -> Any:
    return await conn.fetchrow(
        "INSERT INTO decision_simulations (id, workspace_id, model_id, model_version, "
        "dataset_id, guideline_id, requested_role, created_by) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
        row["id"],
        row["workspace_id"],
        row["model_id"],
        row["model_version"],
        row["dataset_id"],
        row["guideline_id"],
        row["requested_role"],
        row["created_by"],
    )


async def set_running(conn: asyncpg.Connection, simulation: UUID) -> None:
    await conn.execute(
        "UPDATE decision_simulations SET status = 'running' WHERE id = $1", simulation
    )


async def finish_simulation(
    conn: asyncpg.Connection,
    simulation: UUID,
    *,
    status: str,
    result: Any,
    error: Any,
    governance: Any = None,
) -> Any:
    """End a simulation with its result and the governance it was computed under."""
    return await conn.fetchrow(
        "UPDATE decision_simulations SET status = $2, result = $3::jsonb, error = $4::jsonb, "
        "finished_at = now(), governance = $5::jsonb WHERE id = $1 RETURNING *",
        simulation,
        status,
        _json(result) if result is not None else None,
        _json(error) if error is not None else None,
        _json(governance) if governance is not None else None,
    )
