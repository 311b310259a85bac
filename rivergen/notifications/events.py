"""Which platform events people see, and under which Socket.io event name.

A platform event (the :class:`~rivergen.events.Event` envelope) reaches a workspace's room as
the Socket.io event :func:`socket_event_of` names, with a :class:`Notification` as its payload.
Events of no workspace, and usage/billing events, are never shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from rivergen.events import Event, Topic
from rivergen.notifications.rooms import user_room, workspace_room

JOB_PROGRESS = "job.progress"
JOB_COMPLETED = "job.completed"
JOB_FAILED = "job.failed"
JOB_CANCELLED = "job.cancelled"
FILE_CREATED = "storage.file.created"
DATASET_PROFILED = "dataset.profiled"
DATASET_VERSION_CREATED = "dataset.version.created"
MODEL_TRAINED = "model.trained"
MODEL_DRIFT_DETECTED = "model.drift_detected"
MODEL_PERFORMANCE_DEGRADED = "model.performance_degraded"
DECISION_MADE = "decision.made"
GOVERNANCE_ALERT = "governance.alert"
PROMPT_PROGRESS = "prompt.progress"
PROMPT_COMPLETED = "prompt.completed"
MEMBER_ADDED = "workspace.member.added"
INVITATION_RECEIVED = "workspace.invitation.received"
NOTIFICATION = "notification"
"""The generic Socket.io event: anything published on ``rivergen.notifications`` or
``governance.alerts`` that has no name of its own; ``type`` in the payload says what it is."""
NOTIFICATIONS = "notifications"
"""Several notifications at once, oldest first: ``{"items": [notification, ...]}``. The bridge
sends what it delivers together to the same rooms as one emit (one message per socket, not one
per event); each item carries its own Socket.io name in ``event``. Read with :func:`unpack`."""

SHOWN_TYPES: frozenset[str] = frozenset(
    {
        JOB_PROGRESS,
        JOB_COMPLETED,
        JOB_FAILED,
        JOB_CANCELLED,
        FILE_CREATED,
        DATASET_PROFILED,
        DATASET_VERSION_CREATED,
        MODEL_TRAINED,
        DECISION_MADE,
        GOVERNANCE_ALERT,
        PROMPT_PROGRESS,
        PROMPT_COMPLETED,
        MEMBER_ADDED,
        INVITATION_RECEIVED,
        MODEL_DRIFT_DETECTED,
        MODEL_PERFORMANCE_DEGRADED,
    }
)
"""Platform event types forwarded under their own name."""

PERSONAL_TYPES: frozenset[str] = frozenset({MEMBER_ADDED})
"""Event types that also reach the room of the user their ``data.user_id`` names (that person
may not be in the workspace's room yet: a new member is, at the latest, at the next re-check)."""

PRIVATE_TYPES: frozenset[str] = frozenset({INVITATION_RECEIVED})
"""Event types that reach the room of the user their ``data.user_id`` names and no other room,
and that the workspace's catch-up list never shows: an invitation is the invitee's news, and
its members must not learn from it whether the invited email has an account."""

GENERIC_TOPICS: frozenset[str] = frozenset({Topic.NOTIFICATIONS.value, Topic.GOVERNANCE_ALERTS})
"""Topics whose every other event is shown as a generic ``notification``."""

HIDDEN_PREFIXES: tuple[str, ...] = ("usage.", "billing.")
"""Event types never shown to people, whatever their topic."""

NOTIFIED_TOPICS: tuple[str, ...] = (
    Topic.JOBS.value,
    Topic.STORAGE.value,
    Topic.NOTIFICATIONS.value,
    Topic.MODELS.value,
    Topic.GOVERNANCE_ALERTS.value,
    Topic.MODEL_METRICS.value,
)
"""The topics the notification bridge reads."""


def socket_event_of(topic: str, event: Event) -> str | None:
    """The Socket.io event name ``event`` (received on ``topic``) is shown as; None if people
    do not see it (usage and billing events, events of no workspace, internal events)."""
    if event.workspace_id is None or event.type.startswith(HIDDEN_PREFIXES):
        return None
    if event.type in SHOWN_TYPES:
        return event.type
    if topic in GENERIC_TOPICS:
        return NOTIFICATION
    return None


def rooms_of(notification: Notification) -> list[str]:
    """The rooms a notification is emitted to: its workspace's, and for a personal event the
    user's too (a socket in both gets it once); for a private event the user's alone."""
    user = notification.data.get("user_id")
    own = [user_room(user)] if isinstance(user, str) and user else []
    if notification.type in PRIVATE_TYPES:
        return own  # the user's alone (none without a user: emitted nowhere)
    rooms = [workspace_room(notification.workspace_id)]
    if notification.type in PERSONAL_TYPES:
        rooms += own
    return rooms


def unpack(event: str, data: Any) -> list[tuple[str, Any]]:
    """What one Socket.io message holds, as (name, payload) pairs in order: the items of a
    :data:`NOTIFICATIONS` batch under their own names, any other event as itself."""
    if event == NOTIFICATIONS and isinstance(data, dict) and isinstance(data.get("items"), list):
        return [(str(item.get("event", NOTIFICATION)), item) for item in data["items"]]
    return [(event, data)]


class Notification(BaseModel):
    """What a client receives (the Socket.io payload) and what the catch-up endpoint lists."""

    model_config = ConfigDict(frozen=True)

    id: int = Field(description="Catch-up cursor: pass the last one seen as `since`.")
    event_id: UUID = Field(description="The platform event's id; a client may de-duplicate on it.")
    event: str = Field(description="The Socket.io event name, e.g. `job.progress`.")
    type: str = Field(description="The platform event type, e.g. `job.progress`.")
    workspace_id: UUID
    occurred_at: datetime
    data: dict[str, Any] = Field(description="The event's payload.")


class NotificationPage(BaseModel):
    """One page of the catch-up list, oldest first."""

    items: list[Notification]
    next_since: int = Field(
        description="Pass as `since` for what comes after this page (0: nothing stored yet)."
    )
    has_more: bool = Field(description="True if more notifications are stored after this page.")
