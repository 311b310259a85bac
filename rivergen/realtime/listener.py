"""The replica's side of the Redis adapter, and a watch on its subscription.

python-socketio's :class:`AsyncRedisManager` subscribes each replica to one pub/sub channel of
Redis Socket; every emit (from a replica or from a write-only emitter elsewhere) is published
there and each replica delivers it to its own sockets in the addressed rooms. Two weaknesses of
the stock manager matter here, and this module covers both:

* after Redis restarts, it tries again with a doubling wait of up to 60 s, so a replica may stay
  deaf for a minute: :class:`SubscribedRedisManager` caps the wait (``retry_max_s``);
* a dead listener is silent (nothing fails, events just stop arriving):
  :class:`SubscriptionWatch` asks Redis itself, from a second connection, whether this
  replica's pub/sub connection (recognised by its client name) is subscribed to the channel,
  publishes a probe there and checks that the listener heard it, and forces a new subscription
  (a new listener task) when listening has been missing for ``stale_s``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
import socketio
from pydantic import BaseModel
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from rivergen.cache.redis import REDIS_UNAVAILABLE

log = logging.getLogger(__name__)

ConnectedHook = Callable[[str, str], Awaitable[None]]
# Published on the channel by each replica's watch; every listener hears it, the server ignores
# it (an unknown method), so a listener that hears nothing is known to be deaf.
PROBE = json.dumps({"method": "rivergen.probe"})


def redis_options(client_name: str, health_check_interval_s: int) -> dict[str, Any]:
    """Options of the manager's Redis client. The listener blocks on its read for as long as
    the channel is quiet, so reads must never time out (a timeout there makes it reconnect in a
    loop); a PING after ``health_check_interval_s`` of silence finds a dead connection. One
    immediate retry only: the listener's own loop paces the attempts after that."""
    return {
        "retry": Retry(NoBackoff(), 1),
        "socket_timeout": None,
        "socket_connect_timeout": 5,
        "health_check_interval": health_check_interval_s,
        "client_name": client_name,
    }


class SubscribedRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """An :class:`AsyncRedisManager` that re-subscribes quickly after Redis comes back, can be
    told to drop its subscription and make a new one, and calls ``on_connected(sid,
    namespace)`` once a socket is connected (after the server has acknowledged the connection,
    so an event emitted then reaches the client)."""

    pubsub: Any  # the listener's PubSub, replaced on each new subscription

    def __init__(
        self,
        url: str,
        *,
        channel: str,
        client_name: str,
        health_check_interval_s: int,
        retry_max_s: float,
    ) -> None:
        super().__init__(
            url,
            channel=channel,
            redis_options=redis_options(client_name, health_check_interval_s),
        )
        self.client_name = client_name
        self.retry_max_s = retry_max_s
        self.subscriptions = 0
        self.subscribed_at: float | None = None
        self.last_heard: float | None = None
        self.on_connected: ConnectedHook | None = None

    @property
    def task_alive(self) -> bool:
        listener = getattr(self, "thread", None)
        return isinstance(listener, asyncio.Task) and not listener.done()

    def listening(self, now: float, within_s: float) -> bool:
        """Whether the listener task runs and has read from its subscription in the last
        ``within_s`` seconds (or subscribed that recently)."""
        recent = [t for t in (self.last_heard, self.subscribed_at) if t is not None]
        return self.task_alive and bool(recent) and now - max(recent) < within_s

    async def connect(self, sid: str, namespace: str) -> None:
        await super().connect(sid, namespace)
        if self.on_connected is not None:
            await self.on_connected(sid, namespace)

    async def resubscribe(self) -> None:
        """Stop the listener task and start a new one, which subscribes on a new connection.

        Closing the subscription under a running listener is not enough: a reader blocked in
        redis-py may reconnect the closed connection (now back in the pool, subscribed to
        nothing) and wait on it for ever. Cancelling the task ends any await it is in."""
        listener = getattr(self, "thread", None)
        if isinstance(listener, asyncio.Task) and not listener.done():
            listener.cancel()
            await asyncio.wait({listener}, timeout=5)  # never raises the task's outcome
        elif isinstance(listener, asyncio.Task):
            log.warning("the Socket.io listener task had ended; starting it again")
        await self.close_listener()
        self.thread = self.server.start_background_task(self._thread)

    async def close_listener(self) -> None:
        pubsub, self.pubsub = self.pubsub, None
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except Exception:  # a broken connection is what we are dropping
                log.debug("closing the stale subscription failed", exc_info=True)

    async def _redis_listen_with_retries(self) -> AsyncIterator[dict[str, Any]]:
        retry_s = 0.1
        while True:
            try:
                await self.close_listener()
                self._redis_connect()
                await self.pubsub.subscribe(self.channel)
                self.subscriptions += 1
                self.subscribed_at = time.monotonic()
                retry_s = 0.1
                async for message in self.pubsub.listen():
                    self.last_heard = time.monotonic()
                    yield message
                # listen() ends when the subscription was dropped under it.
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: subscribe again
                log.warning(
                    "Redis Socket listener lost (%s); subscribing again in %.1fs", exc, retry_s
                )
                await asyncio.sleep(retry_s)
                retry_s = min(retry_s * 2, self.retry_max_s)


class ListenerState(BaseModel):
    """What a replica knows of its own subscription (the readiness route reports it)."""

    channel: str
    client_name: str
    subscribed: bool
    subscriptions: int
    forced_resubscribes: int
    last_checked_at: float | None
    missing_since: float | None
    error: str | None = None


class SubscriptionWatch:
    """Checks every ``interval_s`` that Redis lists this replica's pub/sub connection as
    subscribed to the channel; after ``stale_s`` without it, forces a new subscription."""

    def __init__(
        self,
        manager: SubscribedRedisManager,
        probe: aioredis.Redis,
        *,
        interval_s: float,
        stale_s: float,
    ) -> None:
        self._manager = manager
        self._probe = probe
        self._interval_s = interval_s
        self._stale_s = stale_s
        self._subscribed = False
        self._forced = 0
        self._forced_at: float | None = None
        self._checked_at: float | None = None
        self._missing_since: float | None = time.monotonic()
        self._error: str | None = None

    @property
    def subscribed(self) -> bool:
        return self._subscribed

    def state(self) -> ListenerState:
        return ListenerState(
            channel=self._manager.channel,
            client_name=self._manager.client_name,
            subscribed=self._subscribed,
            subscriptions=self._manager.subscriptions,
            forced_resubscribes=self._forced,
            last_checked_at=self._checked_at,
            missing_since=self._missing_since,
            error=self._error,
        )

    async def is_subscribed(self) -> bool:
        """Whether Redis has a pub/sub connection of this replica on the channel."""
        clients = await self._probe.client_list(_type="pubsub")
        return any(
            client.get("name") == self._manager.client_name and int(client.get("sub", 0)) > 0
            for client in clients
        )

    async def check(self) -> bool:
        """One check: Redis lists the subscription, the listener task runs, and it has heard
        the probes this watch publishes on the channel (the stock server ignores them)."""
        now = time.monotonic()
        try:
            listed = await self.is_subscribed()
            await self._probe.publish(self._manager.channel, PROBE)
            self._error = None
        except REDIS_UNAVAILABLE as exc:
            listed = False
            self._error = f"redis_socket is unavailable: {exc}"
        self._subscribed = listed and self._manager.listening(now, self._stale_s)
        self._checked_at = time.time()
        if self._subscribed:
            self._missing_since = None
            return True
        if self._missing_since is None:
            self._missing_since = now
        since = max(self._missing_since, self._forced_at or self._missing_since)
        if (self._error is None or not self._manager.task_alive) and (now - since >= self._stale_s):
            # Redis answers (or the listener task is gone), yet this replica does not listen.
            log.warning("the Socket.io listener is not listening; forcing a new subscription")
            self._forced += 1
            self._forced_at = now
            await self._manager.resubscribe()
        return False

    async def run(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self._interval_s)
