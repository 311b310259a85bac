"""The gateway's door: who is calling, for which workspace, and may they call this route.

Every route is in the authorization table (`rivergen.acl`); `authorize` runs before each one.
Another workspace's object is 404, never 403: a non-member cannot learn that it exists.
"""

from __future__ import annotations

import uuid
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rivergen.accounts.gatekeeper import Gatekeeper
from rivergen.accounts.principal import Principal, RequestContext
from rivergen.acl import Access, required_access, role_allows
from rivergen.api.registry import registry_of
from rivergen.core import BackendCorePort
from rivergen.errors import BadRequest, Forbidden, NotFound, RateLimited, Unauthorized
from rivergen.ratelimit import normalize_address
from rivergen.settings import Settings

WORKSPACE_HEADER = "x-workspace-id"
API_KEY_HEADER = "x-api-key"


def gatekeeper_of(request: Request) -> Gatekeeper:
    return registry_of(request.app).gatekeeper


def core_of(request: Request) -> BackendCorePort:
    return registry_of(request.app).core


def _credential(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get(API_KEY_HEADER) or None


def _workspace_of(request: Request, principal: Principal) -> UUID | None:
    raw = request.path_params.get("workspace_id") or request.headers.get(WORKSPACE_HEADER)
    if raw is None:
        return principal.default_workspace
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise BadRequest(
            "X-Workspace-ID is not a workspace id", code="invalid_workspace_id"
        ) from None


def client_address(request: Request) -> str:
    """The caller's address: the peer, or with trusted proxies in front (the gateway's
    ``trusted_proxies``) the first hop outside them that their X-Forwarded-For names."""
    return request.client.host if request.client else "unknown"


async def limit_registrations(request: Request, address: str) -> None:
    """At most ``auth.registrations_per_hour`` new accounts an hour from one address (an IPv6
    address counts as its /64), with the limiter's headers."""
    settings: Settings = request.app.state.settings
    if not settings.gateway.rate_limit:
        return
    limiter = registry_of(request.app).rate_limiter
    decision = await limiter.hit(
        f"rl:register:{normalize_address(address)}",
        limit=settings.auth.registrations_per_hour,
        window_s=3600,
    )
    request.state.response_headers = decision.headers()
    if not decision.allowed:
        raise RateLimited(
            f"more than {decision.limit} new accounts an hour from this address",
            code="registration_throttled",
            details={"retry_after_s": decision.retry_after_s},
        )


async def _rate_limit(request: Request, principal: Principal, member_of: UUID | None) -> None:
    """Requests a minute, by plan: per workspace for its members, else per caller (on the free
    plan). Only a workspace the caller is a member of is ever counted, so a stranger naming
    another workspace spends their own budget, never its; the verdict's headers go on the
    response."""
    settings: Settings = request.app.state.settings
    if not settings.gateway.rate_limit:
        return
    plan = await gatekeeper_of(request).plan_of(member_of)
    key = f"rl:req:{member_of}" if member_of else f"rl:req:actor:{principal.actor[1]}"
    limiter = registry_of(request.app).rate_limiter
    decision = await limiter.hit(key, limit=plan.quotas.requests_per_minute, window_s=60)
    request.state.response_headers = decision.headers()
    if not decision.allowed:
        scope = "this workspace's plan" if member_of else "your account"
        raise RateLimited(
            f"more than {decision.limit} requests a minute for {scope}",
            details={"retry_after_s": decision.retry_after_s},
        )


async def authorize(request: Request) -> RequestContext:
    """Who calls, in which workspace, and may they call this route.

    The order matters: membership is established before anything is counted or recorded
    against a workspace (its rate limit, its headers, its audit log), so a caller who is not
    a member of the workspace they name touches nothing of it.
    """
    route = request.scope.get("route")
    path = route.path if isinstance(route, APIRoute) else request.url.path
    access: Access | None = required_access(request.method, path)
    if access is None:  # deny by default
        raise Forbidden("this route is not in the authorization table", code="route_denied")
    context = RequestContext(principal=None)
    if access != "public":
        context = await _caller_context(request, access)
    request.state.context = context
    return context


async def _caller_context(request: Request, access: Access) -> RequestContext:
    credential = _credential(request)
    if credential is None:
        raise Unauthorized("sign in or send an API key", code="credentials_required")
    gatekeeper = gatekeeper_of(request)
    principal = await gatekeeper.authenticate(credential)
    request.state.principal = principal
    workspace = _workspace_of(request, principal)
    role = await gatekeeper.role_in(principal, workspace) if workspace else None
    member_of = workspace if role is not None else None
    await _rate_limit(request, principal, member_of)
    if access in ("user", "operator") and not principal.is_user:
        raise Forbidden("this route is for signed-in people, not API keys", code="user_required")
    if access == "operator":
        if not await gatekeeper.is_operator(principal):
            raise Forbidden("this route is for platform operators", code="operator_required")
        # Operators act for any tenant: the workspace named is theirs to inspect.
        return RequestContext(principal, workspace, role, operator=True)
    if access in ("user", "authenticated"):
        return RequestContext(principal, member_of, role)
    if workspace is None:
        raise BadRequest("no workspace: send X-Workspace-ID", code="workspace_required")
    if role is None:
        raise NotFound(f"workspace {workspace} not found", code="workspace_not_found")
    if not role_allows(role, access):
        # Set before refusing: the audit entry of a member's denied call names the workspace.
        request.state.context = RequestContext(principal, workspace, role)
        raise Forbidden(f"a {role.name} may not do this; it needs {access}", code="forbidden")
    return RequestContext(principal, workspace, role)


Context = Annotated[RequestContext, Depends(authorize)]
Core = Annotated[BackendCorePort, Depends(core_of)]


class StateHeadersMiddleware:
    """Adds the headers a dependency left in ``request.state.response_headers`` (the rate
    limit's) to the response, error responses included, without doubling any."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_headers(message: Message) -> None:
            extra: dict[str, str] | None = scope.get("state", {}).get("response_headers")
            if message["type"] == "http.response.start" and extra:
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(
                        (k.lower().encode(), v.encode())
                        for k, v in extra.items()
                        if k.lower().encode() not in present
                    ),
                ]
            await send(message)

        await self.app(scope, receive, add_headers)
