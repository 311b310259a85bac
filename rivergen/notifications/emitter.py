"""The write-only Socket.io emitter: any process reaches the Socket.io cluster's rooms through
the Redis Socket server (python-socketio's Redis adapter protocol, channel ``socketio``).

    emitter = NotificationEmitter.from_settings(settings)
    await emitter.emit("job.progress", payload, room=workspace_room(workspace_id))
    await emitter.close()

Unlike python-socketio's own manager, whose publish logs and gives up after two attempts, a
publish that fails here raises :class:`~rivergen.errors.DependencyUnavailable`, so a caller
that must deliver (the notification bridge) retries instead of losing the event silently.
"""

from __future__ import annotations

import logging
from typing import Any

import socketio

from rivergen.clients import require
from rivergen.errors import DependencyUnavailable
from rivergen.notifications.rooms import NAMESPACE
from rivergen.settings import RedisSettings, Settings

log = logging.getLogger(__name__)

CHANNEL = "socketio"
"""The Redis pub/sub channel of python-socketio's Redis adapter (its default)."""


class _StrictRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]  # untyped library
    """python-socketio's Redis manager whose failed publish raises instead of logging."""

    connected: bool

    async def _publish(self, data: Any) -> int:
        error: Exception | None = None
        for _ in range(2):  # a dropped connection is reopened once
            try:
                if not self.connected:
                    self._redis_connect()
                return int(await self.redis.publish(self.channel, self.json.dumps(data)))
            except Exception as exc:  # whatever the client raises, retry once
                error = exc
                self.connected = False
        raise DependencyUnavailable(f"redis socket is unavailable: {error}")


class NotificationEmitter:
    """Emits Socket.io events to rooms from outside the Socket.io servers (write-only)."""

    def __init__(self, url: str, redis: RedisSettings, *, channel: str = CHANNEL) -> None:
        self._manager = _StrictRedisManager(
            url,
            channel=channel,
            write_only=True,
            redis_options={
                "socket_timeout": redis.socket_timeout_s,
                "socket_connect_timeout": redis.socket_timeout_s,
                "health_check_interval": 30,
            },
            logger=log,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> NotificationEmitter:
        """An emitter on the Redis Socket server (``RIVERGEN_REDIS_SOCKET__URL``), on the
        cluster's channel (``RIVERGEN_SOCKETS__CHANNEL``)."""
        url = require(settings.redis_socket.url, "redis_socket", "RIVERGEN_REDIS_SOCKET__URL")
        return cls(url, settings.redis_socket, channel=settings.sockets.channel)

    async def emit(
        self, event: str, data: Any, *, room: str | list[str], namespace: str = NAMESPACE
    ) -> None:
        """Send ``event`` with ``data`` (JSON-serializable) to every socket in ``room`` (or in
        any of a list of rooms: once to a socket in several).

        Returns once the Redis Socket server took the message; raises
        :class:`~rivergen.errors.DependencyUnavailable` if it could not.
        """
        await self._manager.emit(event, data, room=room, namespace=namespace)

    async def close(self) -> None:
        """Close the Redis connection (if one was opened); safe to call twice."""
        redis = getattr(self._manager, "redis", None)
        if redis is not None:
            await redis.aclose()
            self._manager.connected = False
