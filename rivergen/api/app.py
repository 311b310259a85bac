"""The gateway application: one lifespan opens every client, one handler maps every error."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from rivergen import __version__
from rivergen.accounts.credentials import TokenSigner, install_redaction
from rivergen.accounts.gatekeeper import Gatekeeper
from rivergen.api import accounts, billing, data_sources, datasets, health, storage
from rivergen.api.audit import AuditMiddleware
from rivergen.api.errors import install_error_handlers
from rivergen.api.request_id import RequestIdMiddleware
from rivergen.api.security import StateHeadersMiddleware
from rivergen.cache import SessionStore
from rivergen.clients import PlatformClients
from rivergen.connectors.service import DataSourceService
from rivergen.core import BackendCore, BackendCorePort
from rivergen.datasets import DatasetCompute, DatasetService
from rivergen.ratelimit import RateLimiter
from rivergen.settings import Settings, load_settings
from rivergen.storage import StorageService


def create_app(
    settings: Settings | None = None,
    *,
    echo_request_id: bool = True,
    core: Callable[[PlatformClients], BackendCorePort] | None = None,
) -> FastAPI:
    """Build the gateway's FastAPI app. Serve calls this on each replica (a builder function),
    so settings are read there, never when a module is imported.

    ``echo_request_id=False`` behind a proxy that echoes ``X-Request-ID`` itself (Serve).
    ``core`` reaches Backend Core (on Serve: its deployment by handle); by default it runs in
    this process.
    """
    resolved = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_redaction()
        signer = TokenSigner.from_settings(resolved.auth)  # a missing key fails before any I/O
        clients = await PlatformClients.open(resolved)
        try:
            app.state.clients = clients
            app.state.gatekeeper = Gatekeeper(
                clients.db,
                SessionStore(clients.redis_app, resolved.auth.session_ttl_s),
                signer,
            )
            app.state.rate_limiter = RateLimiter(clients.redis_app)
            app.state.core = core(clients) if core else BackendCore(clients)
            app.state.storage = StorageService(clients.db, clients.objects)
            app.state.data_sources = DataSourceService(clients.db, resolved)
            app.state.datasets = DatasetService(
                clients.db, _dataset_compute(resolved), app.state.data_sources
            )
            yield
        finally:
            await clients.close()

    app = FastAPI(
        title="RiverGen",
        version=__version__,
        summary="A distributed data-and-AI platform on Ray.",
        lifespan=lifespan,
    )
    app.state.settings = resolved
    # Starlette runs the last added middleware first: request ids wrap the audit.
    app.add_middleware(StateHeadersMiddleware)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(RequestIdMiddleware, echo=echo_request_id)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(accounts.router)
    app.include_router(billing.router)
    app.include_router(storage.router)
    app.include_router(datasets.router)
    app.include_router(data_sources.router)
    return app


def _dataset_compute(settings: Settings) -> DatasetCompute:
    # Data Staging runs as Ray tasks (compute/); imported here so the library's modules load
    # without it.
    from compute.staging import RayDatasetCompute

    return RayDatasetCompute(settings)
