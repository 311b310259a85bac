"""Notifications: what reaches people in real time (the Socket.io cluster) and what they can
catch up on later.

- :class:`NotificationEmitter`: the write-only emitter to Socket.io rooms (Redis Socket).
- :func:`socket_event_of`: which platform events people see, under which Socket.io name.
- :class:`NotificationBridge`: the bus consumer that keeps and emits them, once per event.
- :class:`NotificationService`: the catch-up list (``GET /api/v1/notifications``).
"""

from rivergen.notifications.bridge import (
    BRIDGE_GROUP,
    BridgeOutcome,
    Delivery,
    NotificationBridge,
)
from rivergen.notifications.emitter import CHANNEL, NotificationEmitter
from rivergen.notifications.events import (
    NOTIFICATION,
    NOTIFICATIONS,
    NOTIFIED_TOPICS,
    SHOWN_TYPES,
    Notification,
    NotificationPage,
    socket_event_of,
    unpack,
)
from rivergen.notifications.rooms import NAMESPACE, user_room, workspace_room
from rivergen.notifications.service import NotificationService

__all__ = [
    "BRIDGE_GROUP",
    "CHANNEL",
    "NAMESPACE",
    "NOTIFICATION",
    "NOTIFICATIONS",
    "NOTIFIED_TOPICS",
    "SHOWN_TYPES",
    "BridgeOutcome",
    "Delivery",
    "Notification",
    "NotificationBridge",
    "NotificationEmitter",
    "NotificationPage",
    "NotificationService",
    "socket_event_of",
    "unpack",
    "user_room",
    "workspace_room",
]
