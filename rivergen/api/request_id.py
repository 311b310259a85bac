"""Request ids: taken from ``X-Request-ID`` when the client sends a sane one, else made here,
echoed on the response, and available to log lines and error bodies through a context var."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_request_id: ContextVar[str | None] = ContextVar("rivergen_request_id", default=None)
_SANE = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
HEADER = b"x-request-id"


def current_request_id() -> str | None:
    return _request_id.get()


class RequestIdMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): it costs nothing on the hot path but a header.

    ``echo=False`` when a proxy in front already echoes ``X-Request-ID`` (Ray Serve does, and
    hands the replica the id in the request), so the response carries the header once.
    """

    def __init__(self, app: ASGIApp, echo: bool = True) -> None:
        self.app = app
        self.echo = echo

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == HEADER), "")
        request_id = given if _SANE.match(given) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        if not self.echo:
            try:
                await self.app(scope, receive, send)
            finally:
                _request_id.reset(token)
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _request_id.reset(token)
