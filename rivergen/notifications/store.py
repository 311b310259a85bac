"""SQL of the notifications table; every function takes the caller's connection (tenant
context set for reads; RLS applies)."""

from __future__ import annotations

import json

import asyncpg

from rivergen.events import Event
from rivergen.notifications.events import PRIVATE_TYPES

_COLUMNS = "id, event_id, event, type, workspace_id, occurred_at, data"


# The catch-up list leaves out what was a user's alone (an invitation).
def _listed(param: int) -> str:
    return f"NOT (type = ANY(${param}::text[]))"


_PRIVATE = sorted(PRIVATE_TYPES)


async def insert(
    conn: asyncpg.Connection, socket_event: str, event: Event
) -> asyncpg.Record | None:
    """Keep ``event`` (once per ``event_id``). Returns its row with ``emitted_at``: a row that
    already has one was delivered before. None if another workspace holds that ``event_id``
    (RLS hides its row): the event is not kept again."""
    row = await conn.fetchrow(
        "INSERT INTO notifications (event_id, workspace_id, event, type, data, occurred_at) "
        "VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT (event_id) DO NOTHING "
        f"RETURNING {_COLUMNS}, emitted_at",
        event.event_id,
        event.workspace_id,
        socket_event,
        event.type,
        json.dumps(event.model_dump(mode="json")["data"]),
        event.occurred_at,
    )
    if row is None:
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS}, emitted_at FROM notifications WHERE event_id = $1",
            event.event_id,
        )
    return row


async def mark_emitted(conn: asyncpg.Connection, notification_id: int) -> None:
    await conn.execute(
        "UPDATE notifications SET emitted_at = now() WHERE id = $1 AND emitted_at IS NULL",
        notification_id,
    )


async def after(conn: asyncpg.Connection, since: int, limit: int) -> list[asyncpg.Record]:
    """Up to ``limit + 1`` rows after ``since``, oldest first."""
    return list(
        await conn.fetch(
            f"SELECT {_COLUMNS} FROM notifications WHERE id > $1 AND {_listed(3)} "
            "ORDER BY id LIMIT $2",
            since,
            limit + 1,
            _PRIVATE,
        )
    )


async def latest(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """The newest ``limit`` rows, oldest first."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM notifications WHERE {_listed(2)} ORDER BY id DESC LIMIT $1",
        limit,
        _PRIVATE,
    )
    return list(reversed(rows))
