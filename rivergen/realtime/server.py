"""One replica of the Socket.io cluster: the python-socketio server, its handlers, its
background checks, and the ASGI app Serve (or uvicorn) runs.

Events a client receives from the server itself:

* ``welcome`` ``{instance_id, rooms}`` once connected (``instance_id`` names this replica);
* ``revoked`` ``{code, message}`` just before the server drops a socket whose credential no
  longer holds (``session_expired``, ``token_expired``, ``invalid_api_key``...).

Events a client may send: ``join`` ``{workspace_id}`` (acknowledged with ``{ok, room}`` or
``{ok: false, error: {code, message}}``), for a workspace the caller was added to after it
connected. Everything else reaches it through the rooms, from any emitter on the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis
import socketio
from pydantic import BaseModel
from starlette.types import Message, Receive, Scope, Send

from rivergen.accounts.credentials import TokenSigner, install_redaction
from rivergen.accounts.gatekeeper import Gatekeeper
from rivergen.cache import SessionStore, connect_redis
from rivergen.clients import require
from rivergen.db import Database
from rivergen.errors import DependencyUnavailable, NotFound, RiverGenError, Unauthorized
from rivergen.notifications.rooms import NAMESPACE
from rivergen.realtime.admission import Admission, Member, refusal
from rivergen.realtime.listener import ListenerState, SubscribedRedisManager, SubscriptionWatch
from rivergen.settings import Settings

log = logging.getLogger(__name__)

SOCKET_PATH = "/socket.io"
READINESS_PATH = f"{SOCKET_PATH}/readyz"


def default_instance_id() -> str:
    """An id for this process when no better one is given (Serve passes its replica id)."""
    return f"{socket.gethostname()}-{os.getpid()}"


class SocketReadiness(BaseModel):
    """What the readiness route of a replica reports."""

    ready: bool
    instance_id: str
    sockets: int
    listener: ListenerState | None = None  # None until the replica has started


class SocketCluster:
    """One replica: builds the server at once (no I/O), opens its clients in :meth:`start`."""

    def __init__(self, settings: Settings, instance_id: str | None = None) -> None:
        self.settings = settings
        self.instance_id = instance_id or default_instance_id()
        sockets = settings.sockets
        self.manager = SubscribedRedisManager(
            require(settings.redis_socket.url, "redis_socket", "RIVERGEN_REDIS_SOCKET__URL"),
            channel=sockets.channel,
            client_name=f"rivergen-socket-{self.instance_id}",
            health_check_interval_s=sockets.redis_health_check_interval_s,
            retry_max_s=sockets.listener_retry_max_s,
        )
        self.manager.on_connected = self._welcome
        origins = sockets.cors_allowed_origins
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            client_manager=self.manager,
            # Serve sends each HTTP request to any replica: long-polling sessions would break.
            transports=["websocket"],
            cors_allowed_origins=("*" if origins == ["*"] else origins) or None,
        )
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.sio.on("join", self._join)
        self.members: dict[str, Member] = {}
        self._admission: Admission | None = None
        self._watch: SubscriptionWatch | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._close: list[Callable[[], Awaitable[Any]]] = []

    async def start(self) -> None:
        """Open Postgres (through PgBouncer), Redis App (sessions) and a probe connection to
        Redis Socket; subscribe to the channel; start the re-checks."""
        install_redaction()
        settings = self.settings
        signer = TokenSigner.from_settings(settings.auth)
        db = Database(
            require(settings.postgres.dsn, "postgres", "RIVERGEN_POSTGRES__DSN"), settings.postgres
        )
        redis_app = connect_redis(
            require(settings.redis_app.url, "redis_app", "RIVERGEN_REDIS_APP__URL"),
            settings.redis_app,
        )
        probe: aioredis.Redis = aioredis.Redis.from_url(
            require(settings.redis_socket.url, "redis_socket", "RIVERGEN_REDIS_SOCKET__URL"),
            socket_timeout=settings.redis_socket.socket_timeout_s,
            socket_connect_timeout=settings.redis_socket.socket_timeout_s,
            decode_responses=True,
        )
        self._close += [probe.aclose, redis_app.aclose, db.close]
        await db.open()
        sessions = SessionStore(redis_app, settings.auth.session_ttl_s)
        self._admission = Admission(Gatekeeper(db, sessions, signer), db)
        # The stock server subscribes on its first connection; a replica must listen before
        # any emit it should deliver, and its readiness tells whether it does.
        self.sio.manager_initialized = True
        self.manager.initialize()
        self._watch = SubscriptionWatch(
            self.manager,
            probe,
            interval_s=settings.sockets.listener_check_interval_s,
            stale_s=settings.sockets.listener_stale_s,
        )
        self._spawn(self._watch.run())
        self._spawn(self._recheck_forever())

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        listener = getattr(self.manager, "thread", None)
        if isinstance(listener, asyncio.Task):
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener
        await self.manager.close_listener()
        if self.manager.redis is not None:
            with contextlib.suppress(Exception):
                await self.manager.redis.aclose()
        for close in reversed(self._close):
            with contextlib.suppress(Exception):
                await close()

    @property
    def started(self) -> bool:
        return self._watch is not None

    def readiness(self) -> SocketReadiness:
        listener = self._watch.state() if self._watch is not None else None
        return SocketReadiness(
            ready=listener is not None and listener.subscribed,
            instance_id=self.instance_id,
            sockets=len(self.members),
            listener=listener,
        )

    # Handlers ---------------------------------------------------------------------------

    async def _connect(self, sid: str, environ: dict[str, Any], auth: object = None) -> None:
        assert self._admission is not None
        try:
            member = await self._admission.admit(auth)
        except RiverGenError as exc:
            # The client's connect_error gets {"message": ..., "data": {"code", "message"}}.
            raise socketio.exceptions.ConnectionRefusedError(exc.message, refusal(exc)) from exc
        self.members[sid] = member
        for room in member.rooms:
            await self.sio.enter_room(sid, room, namespace=NAMESPACE)

    async def _welcome(self, sid: str, namespace: str) -> None:
        member = self.members.get(sid)
        if member is None or namespace != NAMESPACE:
            return
        rooms = {"instance_id": self.instance_id, "rooms": member.rooms}
        await self.sio.emit("welcome", rooms, to=sid, namespace=namespace, ignore_queue=True)

    async def _disconnect(self, sid: str, reason: object = None) -> None:
        self.members.pop(sid, None)

    async def _join(self, sid: str, data: object) -> dict[str, Any]:
        assert self._admission is not None
        member = self.members.get(sid)
        workspace = data.get("workspace_id") if isinstance(data, dict) else None
        if member is None:
            return _failed(Unauthorized("not connected", code="credentials_required"))
        try:
            room = await self._admission.join(member, UUID(str(workspace)))
        except ValueError:
            return _failed(NotFound("no such workspace", code="workspace_not_found"))
        except RiverGenError as exc:
            return _failed(exc)
        await self.sio.enter_room(sid, room, namespace=NAMESPACE)
        return {"ok": True, "room": room}

    # Re-checks ----------------------------------------------------------------------------

    async def _recheck_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sockets.recheck_interval_s)
            try:
                await self.recheck()
            except Exception:
                log.exception("checking the sockets' credentials failed")

    async def recheck(self) -> None:
        """Check every open socket's credential once (each distinct credential once) and drop
        the sockets whose credential no longer holds. While the check cannot be made (Redis App
        or Postgres down) sockets stay: an outage does not sign anyone out."""
        assert self._admission is not None
        by_credential: dict[str, list[str]] = defaultdict(list)
        for sid, member in list(self.members.items()):
            by_credential[member.credential].append(sid)
        for sids in by_credential.values():
            current = self.members.get(sids[0])
            if current is None:
                continue
            try:
                workspaces = await self._admission.recheck(current)
            except Unauthorized as exc:
                for sid in sids:
                    await self._drop(sid, exc)
                continue
            except DependencyUnavailable as exc:
                log.warning("cannot check socket credentials now: %s", exc)
                return
            for sid in sids:
                await self._follow_memberships(sid, workspaces)

    async def _follow_memberships(self, sid: str, workspaces: set[UUID]) -> None:
        member = self.members.get(sid)
        if member is None or member.workspaces == workspaces:
            return
        before = set(member.rooms)
        member.workspaces = set(workspaces)
        after = set(member.rooms)
        for room in sorted(after - before):
            await self.sio.enter_room(sid, room, namespace=NAMESPACE)
        for room in sorted(before - after):
            await self.sio.leave_room(sid, room, namespace=NAMESPACE)

    async def _drop(self, sid: str, why: RiverGenError) -> None:
        self.members.pop(sid, None)
        await self.sio.emit("revoked", refusal(why), to=sid, namespace=NAMESPACE, ignore_queue=True)
        await self.sio.disconnect(sid, namespace=NAMESPACE, ignore_queue=True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(work))


def _failed(error: RiverGenError) -> dict[str, Any]:
    return {"ok": False, "error": refusal(error)}


class SocketApp:
    """The ASGI app of one replica: ``/socket.io/readyz`` (200 or 503 with
    :class:`SocketReadiness`), Socket.io at ``/socket.io/``, and the lifespan that starts and
    stops the replica. Mounted under a route prefix (Serve's ``/socket.io``), it routes by the
    full path all the same."""

    def __init__(self, cluster: SocketCluster) -> None:
        self.cluster = cluster
        self._engine = socketio.ASGIApp(cluster.sio, socketio_path=None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path = _full_path(scope)
        if scope["type"] == "http" and path.rstrip("/") == READINESS_PATH:
            await self._readiness(send)
        elif path == SOCKET_PATH or path.startswith(SOCKET_PATH + "/"):
            await self._engine(scope, receive, with_close_code(send))
        else:
            await _not_found(scope, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.cluster.start()
                except Exception as exc:
                    log.exception("the Socket.io replica could not start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.cluster.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _readiness(self, send: Send) -> None:
        report = self.cluster.readiness()
        body = report.model_dump_json().encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200 if report.ready else 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _full_path(scope: Scope) -> str:
    # ASGI servers differ: some keep the mount point (root_path) in `path`, some strip it.
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path if path.startswith(root) else root + path


def with_close_code(send: Send) -> Send:
    """Serve's default proxy reads ``code`` of every ``websocket.close``; python-engineio may
    send one without it (the ASGI default is 1000)."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "websocket.close" and "code" not in message:
            message = {**message, "code": 1000}
        await send(message)

    return wrapped


async def _not_found(scope: Scope, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = b'{"error": {"code": "not_found", "message": "no such path"}}'
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_socket_app(settings: Settings, instance_id: str | None = None) -> SocketApp:
    """The ASGI app of one Socket.io replica (call it on the replica: it reads no settings of
    its own and opens nothing until its lifespan starts)."""
    return SocketApp(SocketCluster(settings, instance_id))
