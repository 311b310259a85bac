"""The catch-up list: what a workspace was notified of, a page at a time."""

from __future__ import annotations

import json

import asyncpg

from rivergen.accounts.principal import RequestContext
from rivergen.db import Database
from rivergen.notifications import store
from rivergen.notifications.events import Notification, NotificationPage


def notification_of(row: asyncpg.Record) -> Notification:
    data = row["data"]
    return Notification(
        id=row["id"],
        event_id=row["event_id"],
        event=row["event"],
        type=row["type"],
        workspace_id=row["workspace_id"],
        occurred_at=row["occurred_at"],
        data=json.loads(data) if isinstance(data, str) else data,
    )


class NotificationService:
    """Reads a workspace's notifications (RLS keeps every other workspace's out)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(
        self, context: RequestContext, since: int | None, limit: int
    ) -> NotificationPage:
        """Notifications after ``since`` (oldest first); without it, the latest ``limit``."""
        async with self._db.transaction(str(context.require_workspace())) as conn:
            if since is None:
                rows = await store.latest(conn, limit)
                has_more = False
            else:
                rows = await store.after(conn, since, limit)
                has_more = len(rows) > limit
                rows = rows[:limit]
        items = [notification_of(r) for r in rows]
        return NotificationPage(
            items=items, next_since=items[-1].id if items else (since or 0), has_more=has_more
        )
