"""The audit trail: every mutating call and every denied one, after its response is sent."""

from __future__ import annotations

import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rivergen.accounts.principal import Principal, RequestContext
from rivergen.api.registry import started_registry
from rivergen.api.request_id import current_request_id

log = logging.getLogger(__name__)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DENIED = frozenset({401, 403})


def audit_entry(scope: Scope, status: int) -> dict[str, Any]:
    state = scope.get("state", {})
    principal: Principal | None = state.get("principal")
    context: RequestContext | None = state.get("context")
    route = scope.get("route")
    path = getattr(route, "path", scope["path"])
    actor_type, actor_id = principal.actor if principal else ("anonymous", None)
    outcome = "success" if status < 400 else "denied" if status in DENIED else "failed"
    return {
        "workspace_id": context.workspace_id if context else None,
        "actor_type": actor_type,
        "actor_id": actor_id,
        "action": f"{scope['method']} {path}",
        "method": scope["method"],
        "path": scope["path"],
        "status": status,
        "outcome": outcome,
        "request_id": current_request_id(),
    }


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if scope["method"] in MUTATING or status in DENIED:
                await self._record(scope, status)

    async def _record(self, scope: Scope, status: int) -> None:
        registry = started_registry(scope["app"])
        if registry is None:
            return
        try:
            await registry.core.record_audit(audit_entry(scope, status))
        except Exception:  # the response is already sent; the loss is logged, not raised
            log.exception(
                "could not record the audit entry of %s %s", scope["method"], scope["path"]
            )
