"""SQL of the notifications table; every function takes the caller's connection (tenant
context set for reads; RLS applies)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from uuid import UUID

import asyncpg

from rivergen.events import Event
from rivergen.notifications.events import PRIVATE_TYPES

_COLUMNS = "id, event_id, event, type, workspace_id, occurred_at, data"


# The catch-up list leaves out what was a user's alone (an invitation).
def _listed(param: int) -> str:
    return f"NOT (type = ANY(${param}::text[]))"


_PRIVATE = sorted(PRIVATE_TYPES)


async def insert_many(
    conn: asyncpg.Connection, events: Sequence[tuple[str, Event]]
) -> dict[UUID, asyncpg.Record]:
    """Keep each of ``events`` (Socket.io name, event) of the tenant's workspace, once per
    ``event_id``, in one statement (ids in the given order). Returns each one's row by event id,
    with ``emitted_at``: a row that has one was delivered before. An event whose id another
    workspace holds (RLS hides its row) has no row: it is not kept again."""
    if not events:
        return {}
    ids = [event.event_id for _, event in events]
    rows = await conn.fetch(
        "WITH given AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], "
        "$5::text[], $6::timestamptz[]) WITH ORDINALITY "
        "AS g(event_id, workspace_id, event, type, data, occurred_at, n)), "
        "kept AS (INSERT INTO notifications "
        "(event_id, workspace_id, event, type, data, occurred_at) "
        "SELECT event_id, workspace_id, event, type, data::jsonb, occurred_at "
        "FROM given ORDER BY n "
        f"ON CONFLICT (event_id) DO NOTHING RETURNING {_COLUMNS}, emitted_at) "
        f"SELECT {_COLUMNS}, emitted_at FROM kept "
        # The statement's snapshot: the rows kept before it (a redelivery), not the new ones.
        f"UNION ALL SELECT {_COLUMNS}, emitted_at FROM notifications WHERE event_id = ANY($1)",
        ids,
        [event.workspace_id for _, event in events],
        [name for name, _ in events],
        [event.type for _, event in events],
        [json.dumps(event.model_dump(mode="json")["data"]) for _, event in events],
        [event.occurred_at for _, event in events],
    )
    return {row["event_id"]: row for row in rows}


async def mark_emitted(conn: asyncpg.Connection, notification_ids: Sequence[int]) -> None:
    await conn.execute(
        "UPDATE notifications SET emitted_at = now() WHERE id = ANY($1) AND emitted_at IS NULL",
        list(notification_ids),
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
