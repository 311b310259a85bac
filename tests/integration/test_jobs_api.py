"""Compute jobs through the gateway app, run by the job supervisor (a detached Ray actor) on a
local Ray head, over the real Postgres, Kafka and S3 server, on the published Northwind data."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.csv as pacsv
import pytest
import ray

from compute.engine import ACTOR_PREFIX
from compute.jobs import job_supervisor
from rivergen.db import Database
from rivergen.engine.spec import QuerySpec
from rivergen.settings import Settings
from tests.conftest import SHARED_DATA
from tests.engine_helpers import run_query
from tests.integration.api_client import Account, register
from tests.integration.ray_cluster import ray_local
from tests.integration.test_datasets_api import create, outbox_types, put_file
from tests.platform_app import create_app

NORTHWIND = SHARED_DATA / "northwind"
FINISHED = ("succeeded", "failed", "cancelled")
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]


def settings_for_jobs(migrated: Settings, **jobs: Any) -> Settings:
    """The test kinds, quick heartbeats and progress, ``jobs`` settings, no rate limit (jobs are
    polled: the free plan's requests a minute would stop the polling)."""
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    update = {"test_kinds": True, "heartbeat_interval_s": 0.5, "progress_interval_s": 0.5}
    return migrated.model_copy(
        update={"gateway": gateway, "jobs": migrated.jobs.model_copy(update=update | jobs)}
    )


@pytest.fixture(scope="module")
def job_settings(migrated: Settings) -> Settings:
    return settings_for_jobs(migrated)


@pytest.fixture
async def client(job_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(job_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", timeout=60
        ) as http:
            yield http


async def dataset(client: httpx.AsyncClient, owner: Account, csv: str) -> str:
    file_id = await put_file(client, owner, csv, (NORTHWIND / csv).read_bytes())
    made = await create(client, owner, csv.removesuffix(".csv"), file_id)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def submit(
    client: httpx.AsyncClient, owner: Account, kind: str, params: dict[str, Any], **extra: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/jobs", json={"kind": kind, "params": params, **extra}, headers=owner.headers()
    )


async def wait_for(
    client: httpx.AsyncClient,
    owner: Account,
    job: str,
    states: tuple[str, ...] = FINISHED,
    timeout_s: float = 60.0,
    until: Any = None,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        got = await client.get(f"/api/v1/jobs/{job}", headers=owner.headers())
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        if body["state"] in states and (until is None or until(body)):
            return body
        assert time.monotonic() < deadline, f"job stuck: {body}"
        await asyncio.sleep(0.1)


async def job_rows(db: Database, workspace: str) -> int:
    async with db.transaction() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM jobs WHERE workspace_id = $1::uuid", workspace
        )
    return count


QUERY = {
    "join": {"left_on": ["categoryID"], "right_on": ["categoryID"]},
    "filters": [{"column": "discontinued", "op": "==", "value": 0}],
    "group_by": ["categoryName"],
    "aggregates": [
        {"function": "count", "alias": "products"},
        {"function": "sum", "column": "unitsInStock"},
        {"function": "mean", "column": "unitPrice", "alias": "avg_price"},
        {"function": "count_distinct", "column": "supplierID"},
    ],
    "order_by": [{"column": "categoryName"}],
}


SQL_JOB = (
    "WITH stock AS (SELECT p.productName, c.categoryName, p.unitPrice * p.unitsInStock AS value, "
    "rank() OVER (PARTITION BY c.categoryName ORDER BY p.unitPrice * p.unitsInStock DESC, "
    "p.productName) AS r FROM products p JOIN categories c ON p.categoryID = c.categoryID "
    "WHERE p.discontinued = 0) "
    "SELECT categoryName, productName, round(value, 2) AS value, "
    "CASE WHEN value > 1000 THEN 'high' ELSE 'low' END AS band FROM stock WHERE r = 1 "
    "ORDER BY categoryName FETCH FIRST 5 ROWS ONLY"
)


async def test_a_query_job_in_sql(client: httpx.AsyncClient) -> None:
    """`params.sql`: datasets named as in the workspace, the whole dialect (a CTE, a join, a
    window, arithmetic, CASE, FETCH FIRST), versions pinned, the answer exact."""
    owner = await register(client, "sql-analyst")
    products = await dataset(client, owner, "products.csv")
    await dataset(client, owner, "categories.csv")
    accepted = await submit(client, owner, "query", {"sql": SQL_JOB}, name="top stock")
    assert accepted.status_code == 202, accepted.text
    pinned = accepted.json()["params"]["inputs"]
    assert pinned["products"]["dataset"] == products and pinned["products"]["version"] == 1
    assert "unitPrice" in pinned["products"]["columns"]
    assert "quantityPerUnit" not in pinned["products"]["columns"]  # never loaded
    done = await wait_for(client, owner, accepted.json()["job_id"])
    assert done["state"] == "succeeded", done["error"]
    page = await client.get(f"/api/v1/jobs/{done['id']}/result", headers=owner.headers())
    got = page.json()["rows"]

    items = pacsv.read_csv(NORTHWIND / "products.csv").to_pylist()
    names = {
        c["categoryID"]: c["categoryName"]
        for c in pacsv.read_csv(NORTHWIND / "categories.csv").to_pylist()
    }
    best: dict[str, tuple[float, str]] = {}
    for p in items:
        if p["discontinued"] == 0:
            value = p["unitPrice"] * p["unitsInStock"]
            key = names[p["categoryID"]]
            if key not in best or (-value, p["productName"]) < (-best[key][0], best[key][1]):
                best[key] = (value, p["productName"])
    expected = [
        {
            "categoryName": k,
            "productName": best[k][1],
            "value": round(best[k][0], 2),
            "band": "high" if best[k][0] > 1000 else "low",
        }
        for k in sorted(best)
    ][:5]
    assert len(got) == 5
    assert [{**r, "value": pytest.approx(r["value"])} for r in expected] == got


@pytest.mark.parametrize(
    ("sql", "status", "code"),
    [
        ("SELECT nosuch FROM products", 422, "sql_invalid"),
        ("SELECT * FROM nowhere", 422, "table_not_found"),
        ("SELECT * FROM read_csv('/etc/passwd')", 400, "sql_function_not_allowed"),
        ("SELECT * FROM products; DROP TABLE products", 400, "sql_multiple_statements"),
        ("COPY products TO '/tmp/out.csv'", 400, "sql_not_read_only"),
    ],
)
async def test_bad_sql_jobs_are_refused_at_submission(
    client: httpx.AsyncClient, db: Database, sql: str, status: int, code: str
) -> None:
    owner = await register(client, "sql-refused")
    await dataset(client, owner, "products.csv")
    refused = await submit(client, owner, "query", {"sql": sql})
    assert refused.status_code == status, refused.text
    assert refused.json()["error"]["code"] == code
    assert await job_rows(db, owner.workspace_id) == 0  # nothing recorded


async def test_query_job_runs_end_to_end(client: httpx.AsyncClient, db: Database) -> None:
    owner = await register(client, "analyst")
    products = await dataset(client, owner, "products.csv")
    categories = await dataset(client, owner, "categories.csv")
    params = {**QUERY, "dataset": products, "join": {**QUERY["join"], "dataset": categories}}  # type: ignore[dict-item]
    accepted = await submit(client, owner, "query", params, name="stock by category")
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()["job_id"]
    assert accepted.json()["state"] == "queued"
    assert accepted.json()["params"]["version"] == 1  # pinned at submission

    done = await wait_for(client, owner, job)
    assert done["state"] == "succeeded", done
    assert done["progress"] == 100 and done["attempts"] == 1 and done["error"] is None
    assert done["started_at"] and done["finished_at"] and done["compute_seconds"] > 0
    result = done["result"]

    expected = run_query(
        QuerySpec.model_validate(params),
        pacsv.read_csv(NORTHWIND / "products.csv"),
        pacsv.read_csv(NORTHWIND / "categories.csv"),
    ).to_pylist()
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = await client.get(f"/api/v1/jobs/{job}/result", params=query, headers=owner.headers())
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["row_count"] == len(expected) == 8
        assert [c["name"] for c in body["columns"]] == [
            "categoryName",
            "products",
            "sum_unitsInStock",
            "avg_price",
            "count_distinct_supplierID",
        ]
        rows += body["rows"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    for got, want in zip(rows, expected, strict=True):
        assert got == {**want, "avg_price": pytest.approx(want["avg_price"])}

    # The result is a dataset version: dataset -> job -> dataset.
    made = await client.get(f"/api/v1/datasets/{result['dataset_id']}", headers=owner.headers())
    assert made.status_code == 200
    assert made.json()["name"] == "stock by category" and made.json()["row_count"] == 8
    assert made.json()["upstream"] == [
        {"kind": "job", "id": job, "version": None, "relation": "produced_by"}
    ]
    source = await client.get(f"/api/v1/datasets/{products}", headers=owner.headers())
    assert {"kind": "job", "id": job, "version": None, "relation": "input_of"} in source.json()[
        "downstream"
    ]
    listed = await client.get(
        "/api/v1/jobs", params={"state": "succeeded"}, headers=owner.headers()
    )
    assert [j["id"] for j in listed.json()["items"]] == [job]
    queued = await client.get("/api/v1/jobs", params={"state": "queued"}, headers=owner.headers())
    assert queued.json()["items"] == []

    types = await outbox_types(db, owner.workspace_id)
    assert types.count("job.completed") == 1
    assert types.count("usage.compute.used") == 1
    assert types.count("dataset.version.created") == 3  # two inputs, one result
    async with db.transaction() as conn:
        seconds = await conn.fetchval(
            "SELECT (payload->'data'->>'seconds')::float FROM event_outbox "
            "WHERE payload->>'type' = 'usage.compute.used' AND payload->'data'->>'job_id' = $1",
            job,
        )
    assert seconds == pytest.approx(done["compute_seconds"], abs=0.01)


async def test_bad_params_leave_no_job(client: httpx.AsyncClient, db: Database) -> None:
    owner = await register(client, "careless")
    products = await dataset(client, owner, "products.csv")
    unknown = "00000000-0000-4000-8000-000000000000"
    cases = [
        ("query", {"dataset": unknown}, "dataset_not_found"),
        ("query", {"dataset": products, "version": 7}, "dataset_version_not_found"),
        (
            "query",
            {
                "dataset": products,
                "filters": [{"column": "unitPrice", "op": ">", "value": "cheap"}],
            },
            "column_type_mismatch",
        ),
        (
            "query",
            {"dataset": products, "aggregates": [{"function": "mean", "column": "productName"}]},
            "aggregate_not_numeric",
        ),
        ("query", {"dataset": products, "columns": ["price"]}, "column_not_found"),
        ("query", {"dataset": products, "limit": -1}, "invalid_params"),
        ("no-such-kind", {}, "unknown_job_kind"),
    ]
    for kind, params, code in cases:
        refused = await submit(client, owner, kind, params)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == code, refused.text
    assert await job_rows(db, owner.workspace_id) == 0
    listed = await client.get("/api/v1/jobs", headers=owner.headers())
    assert listed.json()["items"] == []


async def test_concurrent_jobs_quota_and_cancel(client: httpx.AsyncClient, db: Database) -> None:
    owner = await register(client, "busy")  # the free plan runs one job at a time
    first = await submit(client, owner, "sleep", {"seconds": 60, "steps": 60})
    assert first.status_code == 202, first.text
    job = first.json()["job_id"]
    second = await submit(client, owner, "sleep", {"seconds": 1})
    assert second.status_code == 403, second.text
    assert second.json()["error"]["code"] == "quota_exceeded"
    assert await job_rows(db, owner.workspace_id) == 1

    running = await wait_for(client, owner, job, ("running",), until=lambda b: b["progress"] > 0)
    assert running["message"].startswith("step ")
    asked = time.monotonic()
    cancel = await client.post(f"/api/v1/jobs/{job}/cancel", headers=owner.headers())
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["cancel_requested"] is True
    ended = await wait_for(client, owner, job, timeout_s=5.0)
    took = time.monotonic() - asked
    assert ended["state"] == "cancelled" and took < 5.0, (ended, took)
    assert ended["finished_at"] and ended["result"] is None

    again = await client.post(f"/api/v1/jobs/{job}/cancel", headers=owner.headers())
    assert again.status_code == 409 and again.json()["error"]["code"] == "job_finished"
    result = await client.get(f"/api/v1/jobs/{job}/result", headers=owner.headers())
    assert result.status_code == 409 and result.json()["error"]["code"] == "job_not_succeeded"
    # The slot is free again.
    third = await submit(client, owner, "sleep", {"seconds": 0.2, "steps": 1})
    assert third.status_code == 202, third.text
    assert (await wait_for(client, owner, third.json()["job_id"]))["state"] == "succeeded"
    types = await outbox_types(db, owner.workspace_id)
    assert types.count("job.cancelled") == 1 and types.count("job.completed") == 1


async def test_killed_worker_is_retried(
    client: httpx.AsyncClient, tmp_path: Path, db: Database
) -> None:
    owner = await register(client, "unlucky")
    accepted = await submit(
        client, owner, "sleep", {"seconds": 3, "steps": 3, "pid_dir": str(tmp_path)}
    )
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()["job_id"]
    pid_file = tmp_path / "pid"
    deadline = time.monotonic() + 30
    while not pid_file.exists():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    os.kill(int(pid_file.read_text()), signal.SIGKILL)

    done = await wait_for(client, owner, job)
    assert done["state"] == "succeeded", done
    assert done["attempts"] == 2
    rows = await client.get(f"/api/v1/jobs/{job}/result", headers=owner.headers())
    assert [r["step"] for r in rows.json()["rows"]] == [0, 1, 2]

    # A job that crashes every attempt ends failed, with the reason.
    doomed = await submit(client, owner, "sleep", {"seconds": 0, "steps": 1, "crash_attempts": 99})
    failed = await wait_for(client, owner, doomed.json()["job_id"])
    assert failed["state"] == "failed" and failed["attempts"] == failed["max_attempts"] == 3
    assert failed["error"]["code"] == "job_failed"
    assert "attempt 3 of 3 failed" in failed["error"]["message"]
    assert "Worker" in failed["error"]["message"] or "died" in failed["error"]["message"]
    types = await outbox_types(db, owner.workspace_id)
    assert types.count("job.failed") == 1


async def test_supervisor_restart_resumes_jobs(
    client: httpx.AsyncClient, job_settings: Settings
) -> None:
    owner = await register(client, "resumed")
    accepted = await submit(client, owner, "sleep", {"seconds": 4, "steps": 8})
    job = accepted.json()["job_id"]
    await wait_for(client, owner, job, ("running",), until=lambda b: b["progress"] > 0)

    supervisor = job_supervisor(job_settings)
    assert job in ray.get(supervisor.owned.remote())
    ray.kill(supervisor, no_restart=False)

    done = await wait_for(client, owner, job)
    assert done["state"] == "succeeded", done
    assert done["attempts"] == 2 and done["progress"] == 100
    assert job not in ray.get(job_supervisor(job_settings).owned.remote())


async def test_another_workspaces_job_does_not_exist(client: httpx.AsyncClient) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    bobs = await submit(client, bob, "sleep", {"seconds": 0.1, "steps": 1})
    job = bobs.json()["job_id"]
    await wait_for(client, bob, job)
    for method, path in [("GET", ""), ("POST", "/cancel"), ("GET", "/result")]:
        response = await client.request(
            method, f"/api/v1/jobs/{job}{path}", headers=alice.headers()
        )
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "job_not_found"
    listed = await client.get("/api/v1/jobs", headers=alice.headers())
    assert listed.json()["items"] == []


async def test_a_request_waits_for_the_jobs_end(client: httpx.AsyncClient) -> None:
    owner = await register(client, "patient")
    # Submitted and answered once it has ended: its state and result in the one answer.
    done = await client.post(
        "/api/v1/jobs",
        params={"wait_s": 30},
        headers=owner.headers(),
        json={"kind": "sleep", "params": {"seconds": 0.3, "steps": 1}},
    )
    assert done.status_code == 202, done.text
    assert done.json()["state"] == "succeeded" and done.json()["result"] is not None

    # A job that outlasts the wait: the answer comes after `wait_s`, the job still going.
    long = await client.post(
        "/api/v1/jobs",
        params={"wait_s": 0.5},
        headers=owner.headers(),
        json={"kind": "sleep", "params": {"seconds": 60, "steps": 60}},
    )
    assert long.status_code == 202, long.text
    job = long.json()["job_id"]
    assert long.json()["state"] in ("queued", "running")
    still = await client.get(f"/api/v1/jobs/{job}", params={"wait_s": 0.3}, headers=owner.headers())
    assert still.status_code == 200 and still.json()["state"] in ("queued", "running")

    # Cancelled while a request waits on it: the waiting request answers with the end.
    waiting = asyncio.create_task(
        client.get(f"/api/v1/jobs/{job}", params={"wait_s": 30}, headers=owner.headers())
    )
    await asyncio.sleep(0.3)
    assert not waiting.done()
    cancel = await client.post(f"/api/v1/jobs/{job}/cancel", headers=owner.headers())
    assert cancel.status_code == 200, cancel.text
    ended = await waiting
    assert ended.status_code == 200 and ended.json()["state"] == "cancelled"

    too_long = await client.get(
        f"/api/v1/jobs/{job}", params={"wait_s": 61}, headers=owner.headers()
    )
    assert too_long.status_code == 422
    stranger = await register(client, "stranger")
    hidden = await client.get(
        f"/api/v1/jobs/{job}", params={"wait_s": 30}, headers=stranger.headers()
    )
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "job_not_found"


# A query that runs for minutes on one core: a cross join counted row by row.
LONG_SQL = (
    "SELECT count(*) AS n FROM shippers, range(100000000) AS a(i), range(1000) AS b(j) "
    "WHERE (a.i * 7 + b.j) % 1000003 = 5"
)


async def test_a_cancelled_query_stops_and_the_engine_goes_on(
    client: httpx.AsyncClient, job_settings: Settings
) -> None:
    """Query jobs run in their node's long-lived engine: cancelling a running query
    interrupts it there (the job ends cancelled within seconds), and the engine answers the
    next query at once rather than finishing the cancelled one first."""
    owner = await register(client, "impatient")
    await dataset(client, owner, "shippers.csv")
    long = await submit(client, owner, "query", {"sql": LONG_SQL})
    assert long.status_code == 202, long.text
    job = long.json()["job_id"]
    await wait_for(client, owner, job, ("running",), until=lambda b: b["progress"] >= 10)
    node = ray.get_runtime_context().get_node_id()  # one node: its engine runs the query
    engine = ray.get_actor(ACTOR_PREFIX + node, namespace=job_settings.jobs.namespace)
    deadline = time.monotonic() + 30
    while not ray.get(engine.in_flight.remote()):
        assert time.monotonic() < deadline, "the query never started in the engine"
        await asyncio.sleep(0.1)
    cancel = await client.post(f"/api/v1/jobs/{job}/cancel", headers=owner.headers())
    assert cancel.status_code == 200, cancel.text
    asked = time.monotonic()
    ended = await wait_for(client, owner, job, timeout_s=30)
    assert ended["state"] == "cancelled", ended
    assert time.monotonic() - asked < 10
    # And the query itself stopped: nothing of it still runs in the engine.
    deadline = time.monotonic() + 10
    while running := ray.get(engine.in_flight.remote()):
        assert time.monotonic() < deadline, f"the cancelled query still runs ({running})"
        await asyncio.sleep(0.2)

    # The engine answers the next queries.
    for _ in range(2):
        quick = await client.post(
            "/api/v1/jobs",
            params={"wait_s": 30},
            headers=owner.headers(),
            json={"kind": "query", "params": {"sql": "SELECT count(*) AS n FROM shippers"}},
        )
        assert quick.status_code == 202, quick.text
        assert quick.json()["state"] == "succeeded", quick.json()
