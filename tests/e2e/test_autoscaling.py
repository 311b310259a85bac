"""A capability service under load on Ray Serve (HAProxy mode, the suite's multi-node
cluster): the Planning service, deployed as the platform deploys it but with short autoscaling
delays, gets more replicas than its minimum while many callers wait on it and comes back down
after; at every point the Operations
agent's `GET /api/v1/operations/deployments` reports the counts Serve itself reports
(``serve.status()``), read live."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from rivergen.services.planning.catalog import CatalogColumn, CatalogTable, PromptCatalog
from rivergen.settings import GatewaySettings, Settings
from tests.e2e.cluster import RayCluster
from tests.integration.api_client import Account, register
from tests.integration.test_cli import rivergen
from tests.platform_app import create_app

APP = "capability-probe"
DEPLOYMENT = "planning"
MIN_REPLICAS, MAX_REPLICAS = 1, 3
CALLERS = 24
QUESTION = "how many orders per country"


@pytest.fixture(scope="module")
def serve_cluster(cluster: RayCluster) -> Iterator[None]:
    """The probe application on the suite's cluster (beside the platform), by a driver of
    this process; deleted after."""
    import ray
    from ray import serve

    from deployments.services import Planning, service

    with cluster.driver_env():
        ray.init(address=cluster.gcs_address, logging_level=logging.ERROR)
        try:
            sizing = GatewaySettings(max_replicas=MAX_REPLICAS)  # type: ignore[call-arg]
            planning = service(Planning, DEPLOYMENT, sizing).options(
                ray_actor_options={"num_cpus": 0.05},
                autoscaling_config={
                    "min_replicas": MIN_REPLICAS,
                    "max_replicas": MAX_REPLICAS,
                    "target_ongoing_requests": 2,
                    "metrics_interval_s": 0.5,
                    "look_back_period_s": 2,
                    "upscale_delay_s": 1,
                    "downscale_delay_s": 4,
                },
            )
            serve.run(planning.bind(), name=APP, route_prefix=None)
            yield
        finally:
            try:
                serve.delete(APP)
            finally:
                ray.shutdown()


@pytest.fixture
async def client(migrated: Settings, serve_cluster: None) -> AsyncIterator[httpx.AsyncClient]:
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    app = create_app(migrated.model_copy(update={"gateway": gateway}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw", timeout=30) as c:
            yield c


def serve_running() -> int:
    from ray import serve

    status = serve.status().applications[APP].deployments[DEPLOYMENT]
    return int(status.replica_states.get("RUNNING", 0))  # type: ignore[call-overload]


async def reported(client: httpx.AsyncClient, operator: Account) -> dict[str, Any]:
    response = await client.get("/api/v1/operations/deployments", headers=operator.headers())
    assert response.status_code == 200, response.text
    apps = {a["name"]: a for a in response.json()["applications"]}
    [deployment] = apps[APP]["deployments"]
    assert deployment["name"] == DEPLOYMENT
    return dict(deployment)


async def observe(client: httpx.AsyncClient, operator: Account, t0: float) -> dict[str, Any]:
    """One point: Serve's count read right before and right after the agent's report; when
    both agree, the report must say the same."""
    before = serve_running()
    seen = await reported(client, operator)
    after = serve_running()
    if before == after:
        assert seen["running_replicas"] == before, (seen, before)
    else:
        assert seen["running_replicas"] in (before, after), (seen, before, after)
    assert (seen["min_replicas"], seen["max_replicas"]) == (MIN_REPLICAS, MAX_REPLICAS)
    return {
        "t": round(time.monotonic() - t0, 1),
        "running": seen["running_replicas"],
        "target": seen["target_replicas"],
        "serve": after,
    }


async def load(stop: asyncio.Event) -> int:
    from ray import serve

    handle = serve.get_deployment_handle(DEPLOYMENT, app_name=APP)
    # The Northwind orders as a prompt's catalog names them.
    catalog = PromptCatalog(
        tables=[
            CatalogTable(
                dataset_id=uuid.uuid4(),
                version=1,
                name="orders",
                row_count=830,
                columns=[
                    CatalogColumn(name="orderID", type="int64"),
                    CatalogColumn(name="shipCountry", type="string", values=["Germany", "France"]),
                    CatalogColumn(name="freight", type="double"),
                ],
            )
        ]
    )
    calls = 0

    async def caller() -> None:
        nonlocal calls
        while not stop.is_set():
            await handle.translate.remote(QUESTION, catalog)
            calls += 1

    await asyncio.gather(*(caller() for _ in range(CALLERS)))
    # The handle's router reports to the controller until shut down: stop it before this
    # process's driver leaves the cluster.
    await handle.shutdown_async()
    return calls


@pytest.mark.slow
@pytest.mark.timeout(90, func_only=True)
async def test_replicas_rise_under_load_and_fall_after_as_reported(
    client: httpx.AsyncClient,
) -> None:
    operator = await register(client, "operator")
    granted = rivergen("operators", "add", operator.email)  # a platform operator
    assert granted.returncode == 0, granted.stderr
    t0 = time.monotonic()
    timeline = [await observe(client, operator, t0)]
    assert timeline[0]["running"] == MIN_REPLICAS

    stop = asyncio.Event()
    loader = asyncio.create_task(load(stop))
    peak_at = None
    while time.monotonic() - t0 < 40:
        await asyncio.sleep(1)
        point = await observe(client, operator, t0)
        timeline.append(point)
        if point["running"] > MIN_REPLICAS and peak_at is None:
            peak_at = time.monotonic()
        if peak_at is not None and (
            point["running"] == MAX_REPLICAS or time.monotonic() - peak_at > 5
        ):
            break
    stop.set()
    calls = await loader
    peak = max(p["running"] for p in timeline)
    assert peak > MIN_REPLICAS, timeline

    load_ended = time.monotonic()
    while time.monotonic() - load_ended < 35:
        await asyncio.sleep(1)
        point = await observe(client, operator, t0)
        timeline.append(point)
        if point["running"] == MIN_REPLICAS and point["target"] == MIN_REPLICAS:
            break
    print(f"calls={calls} peak={peak} timeline={timeline}")
    assert timeline[-1]["running"] == MIN_REPLICAS, timeline
