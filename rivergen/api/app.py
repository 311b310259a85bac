"""The platform's FastAPI apps: one factory, one lifespan that opens every client, one handler
that maps every error. The gateway and Storage Orchestration are the same app with other
routers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from rivergen import __version__
from rivergen.accounts.credentials import TokenSigner, install_redaction
from rivergen.accounts.gatekeeper import Gatekeeper
from rivergen.api import (
    accounts,
    billing,
    data_sources,
    datasets,
    decisions,
    governance_agent,
    health,
    jobs,
    models,
    monitoring,
    notifications,
    operations,
    policies,
    prompts,
    semantic,
    storage,
)
from rivergen.api.audit import AuditMiddleware
from rivergen.api.errors import install_error_handlers
from rivergen.api.idempotency import IdempotencyMiddleware
from rivergen.api.metrics import RequestMetricsMiddleware
from rivergen.api.registry import Elsewhere, build_registry, use_registry
from rivergen.api.request_id import RequestIdMiddleware
from rivergen.api.security import StateHeadersMiddleware
from rivergen.cache import MembershipCache, SessionStore
from rivergen.clients import PlatformClients
from rivergen.domain import ComputeAdapters
from rivergen.jobs import JobService
from rivergen.settings import Settings, load_settings
from rivergen.web import install_web

log = logging.getLogger(__name__)

# What the gateway serves, and what Storage Orchestration (its own Serve application, the
# high-I/O upload path) serves under STORAGE_PREFIX. In one process (tests, bare uvicorn) an app
# has both.
GATEWAY_ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    accounts.router,
    billing.router,
    datasets.router,
    data_sources.router,
    jobs.router,
    notifications.router,
    prompts.router,
    semantic.router,
    policies.router,
    decisions.router,
    monitoring.router,
    governance_agent.router,
    operations.router,
    operations.workspace_router,
    models.router,
)
STORAGE_ROUTERS: tuple[APIRouter, ...] = (storage.router,)
STORAGE_PREFIX = storage.PREFIX


class MountedAt:
    """Lets an app mounted under a route prefix route by its full paths.

    Serve mounts an application with a ``route_prefix`` by appending the prefix to the ASGI
    ``root_path``; Starlette then matches routes on the path *without* it, and builds
    ``base_url`` with it. This app's routes carry the prefix already (the same routers serve the
    single-process app), so the prefix goes back out of ``root_path``: routes, the
    authorization table's templates and the URLs the app hands out stay as they are.
    """

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        root_path: str = scope.get("root_path", "")
        if scope["type"] in ("http", "websocket") and root_path.endswith(self.prefix):
            scope = dict(scope, root_path=root_path[: -len(self.prefix)])
        await self.app(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    compute: Callable[[Settings], ComputeAdapters],
    echo_request_id: bool = True,
    elsewhere: Callable[[PlatformClients], Elsewhere] | None = None,
    routers: Sequence[APIRouter] = GATEWAY_ROUTERS + STORAGE_ROUTERS,
    mounted_at: str | None = None,
) -> FastAPI:
    """Build a FastAPI app of ``routers`` (by default the whole API). Serve calls this on each
    replica (a builder function), so settings are read there, never when a module is imported.

    ``compute`` makes the compute adapters the domain services run on (Ray's:
    ``compute.adapters.ray_adapters``), from the resolved settings, when the app starts.
    ``echo_request_id=False`` behind a proxy that echoes ``X-Request-ID`` itself (Serve).
    ``elsewhere`` gives the services reached elsewhere (on Serve: their deployments by handle,
    :class:`~rivergen.api.registry.Elsewhere`); the others, and all by default, run in this
    process (:func:`~rivergen.api.registry.build_registry`). ``mounted_at`` is the route prefix
    Serve mounts the app under, if any (its OpenAPI document is then at
    ``<prefix>/openapi.json``).
    """
    resolved = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_redaction()
        signer = TokenSigner.from_settings(resolved.auth)  # a missing key fails before any I/O
        clients = await PlatformClients.open(resolved)
        try:
            gatekeeper = Gatekeeper(
                clients.db,
                SessionStore(clients.redis_app, resolved.auth.session_ttl_s),
                signer,
                resolved.auth.operators,
                MembershipCache(clients.redis_app, resolved.auth.membership_cache_s),
            )
            away = elsewhere(clients) if elsewhere else None
            registry = build_registry(clients, resolved, gatekeeper, compute(resolved), away)
            use_registry(app, registry)
            if jobs.router in routers:  # the storage app serves no jobs: no supervisor wait
                await _resume_jobs(registry.jobs)
            yield
        finally:
            await clients.close()

    # Mounted under a prefix, the app's own OpenAPI document and docs live under it too (Serve
    # sends /openapi.json and /docs to the gateway).
    docs_root = mounted_at.rstrip("/") if mounted_at else ""
    app = FastAPI(
        title="RiverGen",
        version=__version__,
        summary="A distributed data-and-AI platform on Ray.",
        lifespan=lifespan,
        openapi_url=f"{docs_root}/openapi.json",
        docs_url=f"{docs_root}/docs",
        redoc_url=f"{docs_root}/redoc",
    )
    app.state.settings = resolved
    # Starlette runs the last added middleware first: request ids wrap the audit.
    # Innermost: the held response of a keyed request is committed before any other sees it.
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(StateHeadersMiddleware)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(RequestIdMiddleware, echo=echo_request_id)
    app.add_middleware(RequestMetricsMiddleware)  # times it all
    if resolved.gateway.trusted_proxies:
        # The client's address (the login throttle's) from the trusted proxies' header only.
        app.add_middleware(
            ProxyHeadersMiddleware,
            trusted_hosts=[str(network) for network in resolved.gateway.trusted_proxies],
        )
    if mounted_at:
        app.add_middleware(MountedAt, prefix=mounted_at)
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    if health.router in routers:  # the gateway also serves the web client at /
        install_web(app)
    return app


async def _resume_jobs(jobs: JobService) -> None:
    # Best effort: a gateway starts even when the supervisor cannot (it is created again by the
    # next submission, and resumes then).
    try:
        async with asyncio.timeout(20):
            await jobs.resume()
    except Exception:
        log.exception("the job supervisor could not be started")
