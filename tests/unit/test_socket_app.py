"""The Socket.io replica's ASGI app routes by full paths whether or not Serve mounts it under
`/socket.io`, and never lets a websocket close go out without a code."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from rivergen.realtime import SocketApp, create_socket_app
from rivergen.realtime.server import with_close_code
from rivergen.settings import RedisSettings, Settings


def app() -> SocketApp:
    # Nothing is opened before the lifespan starts: no server is needed here.
    settings = Settings(redis_socket=RedisSettings(url="redis://127.0.0.1:1/0"))  # type: ignore[call-arg,arg-type]
    return create_socket_app(settings, "replica-x")


class ServeMount:
    """What Serve does for a route prefix: the prefix joins root_path, the path stays whole."""

    def __init__(self, inner: SocketApp, root_path: str) -> None:
        self.inner = inner
        self.root_path = root_path

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.inner(dict(scope, root_path=self.root_path), receive, send)


@pytest.mark.parametrize("mount", ["", "/socket.io"])
async def test_readiness_and_unknown_paths(mount: str) -> None:
    transport = httpx.ASGITransport(app=ServeMount(app(), mount))
    async with httpx.AsyncClient(transport=transport, base_url="http://sockets") as http:
        ready = await http.get("/socket.io/readyz")
        # Not started (no lifespan ran): not subscribed, so not ready.
        assert ready.status_code == 503
        assert ready.json() == {
            "ready": False,
            "instance_id": "replica-x",
            "sockets": 0,
            "listener": None,
        }


async def test_paths_outside_socket_io_are_not_found() -> None:
    # Unmounted (bare uvicorn); under Serve only /socket.io/... reaches the app at all.
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://sockets") as http:
        missing = await http.get("/elsewhere")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"


async def test_a_websocket_close_without_a_code_gets_1000() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    wrapped = with_close_code(send)
    await wrapped({"type": "websocket.close"})
    await wrapped({"type": "websocket.close", "code": 4001})
    await wrapped({"type": "websocket.send", "text": "x"})
    assert sent == [
        {"type": "websocket.close", "code": 1000},
        {"type": "websocket.close", "code": 4001},
        {"type": "websocket.send", "text": "x"},
    ]
