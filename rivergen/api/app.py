"""The gateway application: one lifespan opens every client, one handler maps every error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from rivergen import __version__
from rivergen.api import health
from rivergen.api.errors import install_error_handlers
from rivergen.api.request_id import RequestIdMiddleware
from rivergen.clients import PlatformClients
from rivergen.settings import Settings, load_settings


def create_app(settings: Settings | None = None, *, echo_request_id: bool = True) -> FastAPI:
    """Build the gateway's FastAPI app. Serve calls this on each replica (a builder function),
    so settings are read there, never when a module is imported.

    ``echo_request_id=False`` behind a proxy that echoes ``X-Request-ID`` itself (Serve).
    """
    resolved = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        clients = await PlatformClients.open(resolved)
        app.state.clients = clients
        try:
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
    app.add_middleware(RequestIdMiddleware, echo=echo_request_id)
    install_error_handlers(app)
    app.include_router(health.router)
    return app
