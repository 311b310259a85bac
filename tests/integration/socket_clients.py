"""Socket.io clients for the tests: connect over WebSocket with a credential and keep every
event the server sends, in order (a ``notifications`` batch as its items)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import socketio

from rivergen.notifications import unpack

TRANSPORTS = ["websocket"]


@dataclass
class Listener:
    client: socketio.AsyncClient
    events: list[tuple[str, Any]] = field(default_factory=list)
    refusal: dict[str, Any] | None = None

    def of(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    async def wait_for(self, event: str, count: int = 1, timeout_s: float = 10.0) -> list[Any]:
        deadline = time.monotonic() + timeout_s
        while len(self.of(event)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.of(event))} of {count} {event!r}: {self.events}")
            await asyncio.sleep(0.02)
        return self.of(event)

    async def close(self) -> None:
        await self.client.disconnect()


def listener() -> Listener:
    client = socketio.AsyncClient(reconnection=False)
    box = Listener(client)

    async def any_event(event: str, data: Any = None) -> None:
        box.events.extend(unpack(event, data))  # a batch's notifications, each on its own

    async def connect_error(data: Any) -> None:
        box.refusal = data

    client.on("*", any_event)
    client.on("connect_error", connect_error)
    return box


async def connect(base_url: str, token: str | None) -> Listener:
    """A connected client; ``ConnectionError`` if refused (then ``refusal`` holds why)."""
    box = listener()
    await box.client.connect(
        base_url,
        auth={"token": token} if token is not None else None,
        transports=TRANSPORTS,
        socketio_path="/socket.io",
        wait_timeout=15,
    )
    return box


async def refusal_code(base_url: str, token: str | None) -> str:
    """The machine-readable code the server refuses ``token`` with."""
    box = listener()
    try:
        await box.client.connect(
            base_url,
            auth={"token": token} if token is not None else None,
            transports=TRANSPORTS,
            socketio_path="/socket.io",
            wait_timeout=15,
        )
    except socketio.exceptions.ConnectionError:
        assert box.refusal is not None
        code: str = box.refusal["data"]["code"]
        return code
    await box.close()
    raise AssertionError("the connection was accepted")
