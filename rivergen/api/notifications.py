"""Routes of the Notification Service: catching up on what a workspace was notified of."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from rivergen.api.accounts import ERRORS
from rivergen.api.deps import NotificationsDep
from rivergen.api.security import Context, authorize
from rivergen.notifications import NotificationPage

router = APIRouter(
    prefix="/api/v1", dependencies=[Depends(authorize)], responses=ERRORS, tags=["notifications"]
)


Notifications = NotificationsDep


@router.get("/notifications")
async def list_notifications(
    context: Context,
    notifications: Notifications,
    since: Annotated[
        int | None, Query(ge=0, description="`next_since` of the previous page (or an `id`).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Items per page.")] = 100,
) -> NotificationPage:
    """The workspace's notifications (every event its Socket.io room was sent), oldest first.
    With `since`, those after it, `limit` at a time (follow `next_since` while `has_more`);
    without it, the latest `limit`. A client that reconnects passes the last `id` it saw."""
    return await notifications.page(context, since, limit)
