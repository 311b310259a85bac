"""The web client's build shipped in the package: it matches its source, the gateway serves it
at / to anyone, and serving it leaves the API's deny-by-default door as it was."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from rivergen.web import DIGEST_FILE, STATIC_DIR, source_digest
from tests.platform_app import create_app

WEB_DIR = Path(__file__).resolve().parents[2] / "web"


def test_the_committed_build_matches_its_source() -> None:
    recorded = (STATIC_DIR / DIGEST_FILE).read_text().strip()
    assert recorded == source_digest(WEB_DIR), (
        "rivergen/web/static was built from other sources than web/: run scripts/web-build"
    )


def test_the_page_names_only_assets_that_are_shipped() -> None:
    page = (STATIC_DIR / "index.html").read_text()
    assets = re.findall(r'(?:src|href)="/assets/([^"]+)"', page)
    assert assets, "the page loads no built assets"
    for name in assets:
        assert (STATIC_DIR / "assets" / name).is_file(), name


@pytest.fixture
async def client() -> httpx.AsyncClient:
    # No lifespan: nothing here needs a server, and nothing may reach one.
    transport = httpx.ASGITransport(app=create_app())
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


async def test_the_gateway_serves_the_client_to_anyone(client: httpx.AsyncClient) -> None:
    async with client:
        page = await client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-cache"
        script = re.search(r'src="(/assets/[^"]+\.js)"', page.text)
        assert script is not None
        asset = await client.get(script.group(1))
        assert asset.status_code == 200
        assert "immutable" in asset.headers["cache-control"]
        assert (await client.get("/assets/nothing-here.js")).status_code == 404


async def test_serving_the_client_leaves_the_api_deny_by_default(client: httpx.AsyncClient) -> None:
    async with client:
        me = await client.get("/api/v1/me")
        assert me.status_code == 401
        assert me.json()["error"]["code"] == "credentials_required"
        unknown = await client.get("/api/v1/not-a-route")
        assert unknown.status_code == 404
        assert (await client.post("/", content=b"x")).status_code == 405
        paths = create_app().openapi()["paths"]
        assert "/" not in paths
        assert not any(p.startswith("/assets") for p in paths)
