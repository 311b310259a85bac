"""The Operations agent on a Ray head started without the dashboard (as the platform's tests
run it): the cluster's nodes and resources from the GCS, and a note instead of actors and tasks
(never another cluster's state API found at Ray's default address)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import ray

from rivergen.agents.operations.cluster import NO_STATE_API
from rivergen.settings import Settings
from tests.integration.api_client import register
from tests.integration.ray_cluster import ray_local
from tests.integration.test_cli import rivergen
from tests.platform_app import create_app

pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]


@pytest.fixture
async def client(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(migrated)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw", timeout=60) as c:
            yield c


async def test_the_cluster_without_the_state_api(client: httpx.AsyncClient) -> None:
    operator = await register(client, "operator")
    granted = rivergen("operators", "add", operator.email)
    assert granted.returncode == 0, granted.stderr
    response = await client.get("/api/v1/operations/cluster", headers=operator.headers())
    assert response.status_code == 200, response.text
    cluster = response.json()
    assert cluster["notes"] == [NO_STATE_API]
    assert cluster["actors"] is None and cluster["tasks"] is None
    [node] = cluster["nodes"]
    assert node["node_id"] == ray.get_runtime_context().get_node_id()
    assert node["alive"] and node["is_head"] is None
    assert cluster["resources"]["total"]["CPU"] == 2
