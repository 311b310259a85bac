"""The web client: its built assets (``static/``, made by ``scripts/web-build`` from ``web/``)
served by the gateway at ``/``.

Only ``/`` (the page) and ``/assets/...`` (hashed, immutable files) are served, both public and
outside ``/api``: the API's deny-by-default authorization is untouched, and an unknown path
under ``/api`` still answers the API's own 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from rivergen.web.build_inputs import DIGEST_FILE, source_digest

STATIC_DIR = Path(__file__).resolve().parent / "static"

__all__ = ["DIGEST_FILE", "STATIC_DIR", "install_web", "source_digest"]

# The page itself must never be cached (it names the current hashed assets); assets are
# content-hashed, so they may be cached forever.
_NO_CACHE = {"cache-control": "no-cache"}
_IMMUTABLE = "public, max-age=31536000, immutable"


class _ImmutableFiles(StaticFiles):
    async def get_response(self, path: str, scope: dict) -> Response:  # type: ignore[override,type-arg]
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["cache-control"] = _IMMUTABLE
        return response


def install_web(app: FastAPI, static_dir: Path = STATIC_DIR) -> bool:
    """Serve the client's page at ``/`` and its assets under ``/assets`` (not in the OpenAPI
    document, not in the authorization table: they are public files, not API routes). Does
    nothing when the build is absent; answers whether it is served."""
    index = static_dir / "index.html"
    if not index.is_file():
        return False

    async def page(request: Request) -> Response:
        return FileResponse(index, media_type="text/html", headers=_NO_CACHE)

    app.add_route("/", page, methods=["GET", "HEAD"], include_in_schema=False)
    app.mount("/assets", _ImmutableFiles(directory=static_dir / "assets"), name="web-assets")
    return True
