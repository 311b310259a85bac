"""An app mounted by Serve under a route prefix keeps routing by its full paths."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request

from rivergen.api.app import MountedAt


def app_with_full_paths() -> FastAPI:
    app = FastAPI()

    @app.get("/api/v1/storage/where")
    async def where(request: Request) -> dict[str, str]:
        route = request.scope["route"]
        return {"base_url": str(request.base_url), "route": route.path}

    app.add_middleware(MountedAt, prefix="/api/v1/storage")
    return app


class ServeMount:
    """What Serve's proxy does for an application with a route prefix: the prefix is appended
    to the ASGI root_path, the path stays whole."""

    def __init__(self, app: FastAPI, root_path: str) -> None:
        self.app = app
        self.root_path = root_path

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        scope = dict(scope, root_path=scope.get("root_path", "") + self.root_path)
        await self.app(scope, receive, send)


async def test_routes_and_urls_keep_the_prefix_under_a_serve_mount() -> None:
    mounted = ServeMount(app_with_full_paths(), "/api/v1/storage")
    transport = httpx.ASGITransport(app=mounted)
    async with httpx.AsyncClient(transport=transport, base_url="http://platform") as http:
        response = await http.get("/api/v1/storage/where")
    assert response.status_code == 200, response.text
    # The route template is the authorization table's; part URLs built on base_url keep one
    # prefix, not two.
    assert response.json() == {"base_url": "http://platform/", "route": "/api/v1/storage/where"}


async def test_without_a_mount_nothing_changes() -> None:
    transport = httpx.ASGITransport(app=app_with_full_paths())
    async with httpx.AsyncClient(transport=transport, base_url="http://platform") as http:
        response = await http.get("/api/v1/storage/where")
    assert response.json()["route"] == "/api/v1/storage/where"
