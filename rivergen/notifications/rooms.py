"""Socket.io room names: the server joins each socket to its user's room and to the room of
every workspace the user belongs to; emitters address those rooms."""

from __future__ import annotations

from uuid import UUID

NAMESPACE = "/"


def workspace_room(workspace_id: UUID | str) -> str:
    return f"workspace:{workspace_id}"


def user_room(user_id: UUID | str) -> str:
    return f"user:{user_id}"
