"""Notifications: what reaches people in real time (the Socket.io cluster) and what they can
catch up on later."""

from rivergen.notifications.rooms import user_room, workspace_room

__all__ = ["user_room", "workspace_room"]
