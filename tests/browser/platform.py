"""The whole platform in one process for the browser tests: the gateway (create_app, with the
web client at /) and one Socket.io replica under /socket.io behind a small path dispatcher on
uvicorn, plus the outbox relay and the notification bridge, so job events reach the browser
live, on the tests' event loop (they drive the browser with Playwright's async API).

The settings come from the environment the fixture sets (Ray's workers read the same): the
embedded event bus on a Redis database of its own (no shared Kafka topic reaches it), and the
local object store, whose part URLs are this origin's (a browser needs no CORS for them).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from rivergen.events.relay_worker import RelayWorker
from rivergen.notifications import NotificationBridge
from rivergen.realtime import create_socket_app
from rivergen.settings import Settings
from tests.platform_app import create_app

SOCKET_PATH = "/socket.io"


class PathDispatcher:
    """/socket.io and below to the Socket.io app, everything else to the gateway."""

    def __init__(self, gateway: ASGIApp, sockets: ASGIApp) -> None:
        self.gateway = gateway
        self.sockets = sockets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and (
            path == SOCKET_PATH or path.startswith(SOCKET_PATH + "/")
        ):
            await self.sockets(scope, receive, send)
        else:
            await self.gateway(scope, receive, send)


class Platform:
    """Start with ``async with Platform(settings, port) as platform:``."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.settings = settings
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Platform:
        stack = self._stack
        try:
            gateway = create_app(self.settings)
            sockets = create_socket_app(self.settings, "browser-tests")
            await stack.enter_async_context(gateway.router.lifespan_context(gateway))
            await sockets.cluster.start()
            stack.push_async_callback(sockets.cluster.stop)
            relay = await RelayWorker.open(self.settings)
            stack.push_async_callback(relay.close)
            bridge = await NotificationBridge.open(self.settings, name="browser-tests")
            stack.push_async_callback(bridge.close)
            bridge_stop = asyncio.Event()
            bridging = asyncio.create_task(bridge.run(bridge_stop))
            stack.push_async_callback(_finish, bridging, bridge_stop)
            server = uvicorn.Server(
                uvicorn.Config(
                    PathDispatcher(gateway, sockets),
                    host="127.0.0.1",
                    port=self.port,
                    lifespan="off",
                    log_level="warning",
                )
            )
            serving = asyncio.create_task(server.serve())
            stack.push_async_callback(_stop_server, server, serving)
            while not server.started:
                if serving.done():
                    serving.result()
                    raise RuntimeError("uvicorn stopped")
                await asyncio.sleep(0.05)
        except BaseException:
            await stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()


async def _finish(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    stop.set()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(task, 20)


async def _stop_server(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(serving, 20)


def chromium_args() -> list[str]:
    # The machine's network is closed: no background connections, no component updates.
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]


def launch_options() -> dict[str, Any]:
    return {"executable_path": "/usr/bin/chromium", "args": chromium_args(), "headless": True}
