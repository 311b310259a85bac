"""Request metrics: every HTTP request an app answers, by method, route template and status,
with its latency (``rivergen_requests_total``, ``rivergen_request_duration_seconds``)."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rivergen.metrics import record_request

UNMATCHED = "unmatched"
"""The ``route`` of a request no route matched (a 404 of an unknown path): raw paths would make
a series per path a client cares to try."""


def route_template(scope: Scope) -> str:
    """The template of the route that handled the request (``/api/v1/jobs/{job_id}``), as the
    router left it in the scope; :data:`UNMATCHED` if none did."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestMetricsMiddleware:
    """Pure ASGI: times each HTTP request from its start to its last byte sent, and records it
    once the app returns (a request that raises counts as a 500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            record_request(
                scope["method"], route_template(scope), status, time.perf_counter() - started
            )
