"""The Operations agent through the gateway app on the real services and a Ray head with its
state API (the dashboard, on a port of this suite's range): the cluster as Ray reports it,
deployments without Serve, job retry and the health summary, for platform operators only (a
workspace's own members retry its jobs at /jobs/{id}/retry)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import ray

from rivergen.settings import Settings
from tests.integration.api_client import Account, new_team, register
from tests.integration.test_cli import rivergen
from tests.platform_app import create_app

DASHBOARD_PORT = 23410


@pytest.fixture(scope="module")
def ray_with_state_api() -> Iterator[None]:
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=True,
        dashboard_port=DASHBOARD_PORT,
        configure_logging=False,
    )
    try:
        yield
    finally:
        ray.shutdown()


pytestmark = pytest.mark.usefixtures("ray_with_state_api")


@pytest.fixture
async def client(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    jobs = migrated.jobs.model_copy(update={"test_kinds": True, "heartbeat_interval_s": 0.5})
    app = create_app(migrated.model_copy(update={"gateway": gateway, "jobs": jobs}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw", timeout=60) as c:
            yield c


async def wait_state(client: httpx.AsyncClient, who: Account, job: str, state: str) -> None:
    for _ in range(200):
        got = await client.get(f"/api/v1/jobs/{job}", headers=who.headers())
        if got.json()["state"] == state:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job} never reached {state}: {got.json()}")


async def test_operators_see_the_cluster_deployments_and_health(
    client: httpx.AsyncClient,
) -> None:
    people = await new_team(client)
    admin = people["admin"]
    operator = await register(client, "operator")
    for route in ("cluster", "deployments", "health"):
        for role in ("owner", "admin", "editor", "viewer"):
            refused = await client.get(
                f"/api/v1/operations/{route}", headers=people[role].headers()
            )
            assert refused.status_code == 403, (route, role)
            assert refused.json()["error"]["code"] == "operator_required"
        alone = await client.get(f"/api/v1/operations/{route}", headers=operator.headers())
        assert alone.status_code == 403
    granted = rivergen("operators", "add", operator.email)
    assert granted.returncode == 0, granted.stderr
    assert granted.stdout.strip() == f"{operator.email} is a platform operator"
    # An operator inspects any tenant's workspace, named in X-Workspace-ID.
    ops = operator.headers(admin.workspace_id)

    # A job makes the supervisor actor and a task appear.
    job = await client.post(
        "/api/v1/jobs",
        json={"kind": "sleep", "params": {"seconds": 0.2, "steps": 1}},
        headers=people["editor"].headers(),
    )
    await wait_state(client, admin, job.json()["job_id"], "succeeded")

    cluster = (await client.get("/api/v1/operations/cluster", headers=ops)).json()
    assert cluster["notes"] == []
    [node] = cluster["nodes"]
    assert node["alive"] and node["is_head"] and node["resources_total"]["CPU"] == 2
    assert cluster["resources"]["total"]["CPU"] == 2
    assert 0 <= cluster["resources"]["available"]["CPU"] <= 2
    assert cluster["actors"]["total"] >= 1
    assert cluster["actors"]["by_state"].get("ALIVE", 0) >= 1
    assert cluster["tasks"]["total"] >= 1

    deployments = (await client.get("/api/v1/operations/deployments", headers=ops)).json()
    assert deployments["serve_running"] is False and deployments["applications"] == []
    assert "Serve is not running" in deployments["note"]

    health = await client.get("/api/v1/operations/health", headers=ops)
    assert health.status_code == 200, health.text
    summary = health.json()
    assert summary["cluster"]["nodes_alive"] == 1 and summary["cluster"]["cpu_total"] == 2
    assert summary["serve"] == {"running": False, "applications": 0, "unhealthy": []}
    assert summary["jobs"].get("succeeded") == 1
    assert set(summary["dependencies"]["dependencies"]) >= {"postgres", "ray"}
    assert summary["status"] == ("ok" if not summary["problems"] else "degraded")


async def test_a_cancelled_job_is_retried_and_a_running_one_is_not(
    client: httpx.AsyncClient,
) -> None:
    people = await new_team(client)
    admin, editor, viewer = people["admin"], people["editor"], people["viewer"]
    params = {"seconds": 30, "steps": 30}
    started = await client.post(
        "/api/v1/jobs",
        json={"kind": "sleep", "params": params, "name": "nap"},
        headers=editor.headers(),
    )
    job = started.json()["job_id"]
    await wait_state(client, admin, job, "running")
    running = await client.post(f"/api/v1/jobs/{job}/retry", headers=admin.headers())
    assert running.status_code == 409
    assert running.json()["error"]["code"] == "job_not_retryable"
    await client.post(f"/api/v1/jobs/{job}/cancel", headers=editor.headers())
    await wait_state(client, admin, job, "cancelled")

    refused = await client.post(f"/api/v1/jobs/{job}/retry", headers=viewer.headers())
    assert refused.status_code == 403
    on_ops = await client.post(f"/api/v1/operations/jobs/{job}/retry", headers=admin.headers())
    assert on_ops.status_code == 403 and on_ops.json()["error"]["code"] == "operator_required"
    retried = await client.post(f"/api/v1/jobs/{job}/retry", headers=editor.headers())
    assert retried.status_code == 202, retried.text
    again = retried.json()
    assert again["retried_from"] == job and again["job"]["job_id"] != job
    assert (again["job"]["kind"], again["job"]["params"], again["job"]["name"]) == (
        "sleep",
        started.json()["params"],
        "nap",
    )
    await client.post(f"/api/v1/jobs/{again['job']['job_id']}/cancel", headers=admin.headers())


async def test_another_workspaces_job_does_not_exist(client: httpx.AsyncClient) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    started = await client.post(
        "/api/v1/jobs",
        json={"kind": "sleep", "params": {"seconds": 0.1, "steps": 1}},
        headers=bob.headers(),
    )
    job = started.json()["job_id"]
    await wait_state(client, bob, job, "succeeded")
    theirs = await client.post(f"/api/v1/jobs/{job}/retry", headers=alice.headers())
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "job_not_found"


async def test_a_workspace_admin_sees_its_services_and_jobs_and_nothing_else(
    client: httpx.AsyncClient,
) -> None:
    people = await new_team(client)
    admin, editor = people["admin"], people["editor"]
    stranger = await register(client, "stranger")

    async def crashing(who: Account, attempts: int) -> str:
        params = {"seconds": 0, "steps": 1, "crash_attempts": attempts}
        started = await client.post(
            "/api/v1/jobs", json={"kind": "sleep", "params": params}, headers=who.headers()
        )
        assert started.status_code == 202, started.text
        return str(started.json()["job_id"])

    # One job that the supervisor retries once and then succeeds, one that fails every
    # attempt (one at a time: the free plan's quota); the stranger's failed job is in another
    # workspace.
    theirs = await crashing(stranger, 99)
    retried = await crashing(editor, 1)
    await wait_state(client, admin, retried, "succeeded")
    doomed = await crashing(editor, 99)
    await wait_state(client, admin, doomed, "failed")
    await wait_state(client, stranger, theirs, "failed")

    path = f"/api/v1/workspaces/{admin.workspace_id}/health"
    seen = await client.get(path, headers=admin.headers())
    assert seen.status_code == 200, seen.text
    health = seen.json()
    assert set(health) == {
        "workspace_id",
        "status",
        "problems",
        "services",
        "jobs",
        "failed_jobs_24h",
        "retried_jobs",
    }
    # Every service the workspace uses, up or not, with no error detail.
    assert set(health["services"]) == {
        "postgres",
        "redis_app",
        "redis_socket",
        "events",
        "object_store",
        "ray",
    }
    assert all(set(s) == {"ok", "latency_ms"} for s in health["services"].values())
    assert health["jobs"] == {"succeeded": 1, "failed": 1}
    assert health["failed_jobs_24h"] == 1 and health["status"] == "degraded"
    assert "1 job(s) failed in the last 24 hours" in health["problems"]
    jobs = {j["id"]: j for j in health["retried_jobs"]}
    assert set(jobs) == {retried, doomed}
    assert (jobs[retried]["attempts"], jobs[retried]["retryable"]) == (2, False)
    assert (jobs[doomed]["attempts"], jobs[doomed]["max_attempts"]) == (3, 3)
    assert jobs[doomed]["retryable"] and jobs[doomed]["error_code"] == "job_failed"
    # Nothing about the cluster's nodes or another workspace.
    assert "node" not in seen.text.lower() and theirs not in seen.text

    assert (await client.get(path, headers=people["owner"].headers())).status_code == 200
    for role in ("editor", "viewer"):
        refused = await client.get(path, headers=people[role].headers())
        assert refused.status_code == 403, role
    assert (await client.get(path, headers=stranger.headers())).status_code == 404
    own = await client.get(
        f"/api/v1/workspaces/{stranger.workspace_id}/health", headers=stranger.headers()
    )
    assert own.status_code == 200 and own.json()["jobs"] == {"failed": 1}
    assert [j["id"] for j in own.json()["retried_jobs"]] == [theirs]
