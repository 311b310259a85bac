"""RiverGen's custom metrics reach the node's Prometheus endpoint, recorded where things happen:
a request through the app, an upload through the Storage Service, a PageRank job through the
supervisor and its kernel, and an event through the outbox relay and a consumer."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
import ray
from prometheus_client.parser import text_string_to_metric_families

from rivergen.clients import open_db_and_bus
from rivergen.events import Event, IdempotentConsumer, OutboxRelay, add_to_outbox
from rivergen.metrics import METRICS, record_job, record_kernel
from rivergen.settings import Settings
from tests.integration.api_client import register
from tests.integration.test_datasets_api import create, put_file
from tests.integration.test_jobs_api import submit, wait_for
from tests.platform_app import create_app

METRICS_PORT = 23910
GROUP = "metrics-export-test"
TOPIC = "test.metrics-export"
PROBE = "test.metrics.probe"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def ray_with_metrics() -> Iterator[None]:
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        configure_logging=False,
        _metrics_export_port=METRICS_PORT,
        # Processes report every 10 s by default: fast enough for a test at 0.5 s.
        _system_config={"metrics_report_interval_ms": 500},
    )
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture
async def client(migrated: Settings, ray_with_metrics: None) -> AsyncIterator[httpx.AsyncClient]:
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    app = create_app(migrated.model_copy(update={"gateway": gateway}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw", timeout=60) as c:
            yield c


def samples(text: str) -> Samples:
    """Every sample by name and its labels, Ray's own labels (node, session, ...) summed away."""
    ours = {
        "method",
        "route",
        "status",
        "kind",
        "state",
        "kernel",
        "outcome",
        "type",
        "stage",
        "group",
        "le",
    }
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = frozenset((k, v) for k, v in sample.labels.items() if k in ours)
            key = (sample.name, labels)
            found[key] = found.get(key, 0.0) + sample.value
    return found


def total(found: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(value for (n, got), value in found.items() if n == name and wanted <= got)


async def scrape_until(ready: dict[str, dict[str, str]], timeout_s: float = 30.0) -> Samples:
    """Scrape until every ``{name: labels}`` in ``ready`` has a non-zero total."""
    deadline = time.monotonic() + timeout_s
    found: Samples = {}
    async with httpx.AsyncClient(timeout=5) as http:
        while time.monotonic() < deadline:
            try:
                found = samples((await http.get(f"http://127.0.0.1:{METRICS_PORT}/metrics")).text)
            except httpx.HTTPError:
                found = {}
            if all(total(found, name, **labels) > 0 for name, labels in ready.items()):
                return found
            await asyncio.sleep(0.5)
    missing = [name for name, labels in ready.items() if total(found, name, **labels) == 0]
    raise AssertionError(f"not on the metrics endpoint within {timeout_s} s: {missing}")


async def relay_and_consume(settings: Settings) -> None:
    """An event through the outbox, the relay and an idempotent consumer, on a topic of this
    test's own (the platform's topics carry other tests' events)."""
    db, bus = await open_db_and_bus(settings)
    await bus.ensure_topics([TOPIC])
    event = Event(type=PROBE, data={"run": uuid.uuid4().hex})
    seen: set[uuid.UUID] = set()

    async def handler(conn: asyncpg.Connection, got: Event) -> None:
        seen.add(got.event_id)

    consumer = IdempotentConsumer(bus, db, TOPIC, f"{GROUP}-{uuid.uuid4().hex[:8]}", handler)
    try:
        async with db.transaction() as conn:
            await add_to_outbox(conn, TOPIC, event)
        while await OutboxRelay(db, bus, topics=[TOPIC]).publish_pending():
            pass
        await consumer.start()
        deadline = time.monotonic() + 30
        while event.event_id not in seen:
            assert time.monotonic() < deadline, "the event was not consumed"
            await consumer.poll_once()
    finally:
        await consumer.stop()
        await bus.stop()
        await db.close()


async def test_a_job_an_upload_and_an_event_reach_the_metrics_endpoint(
    client: httpx.AsyncClient, migrated: Settings
) -> None:
    owner = await register(client, "metered")
    assert (await client.get("/api/v1/no-such-route")).status_code == 404
    edges = b"src,dst\n1,2\n2,3\n3,1\n3,4\n4,1\n"
    file_id = await put_file(client, owner, "edges.csv", edges)  # a direct upload
    wrong = hashlib.sha256(b"something else").hexdigest()
    refused = await client.post(
        "/api/v1/storage/upload",
        files={"file": ("e.csv", edges)},
        data={"sha256": wrong},
        headers=owner.headers(),
    )
    assert refused.status_code == 400, refused.text
    made = await create(client, owner, "edges", file_id)
    assert made.status_code == 201, made.text
    accepted = await submit(client, owner, "pagerank", {"dataset": made.json()["id"]})
    assert accepted.status_code == 202, accepted.text
    done = await wait_for(client, owner, accepted.json()["job_id"], timeout_s=60)
    assert done["state"] == "succeeded", done
    await relay_and_consume(migrated)

    found = await scrape_until(
        {
            "ray_rivergen_requests_total": {"route": "/api/v1/jobs", "status": "202"},
            "ray_rivergen_jobs_total": {"kind": "pagerank", "state": "succeeded"},
            "ray_rivergen_kernel_duration_seconds_count": {"kernel": "pagerank"},
            "ray_rivergen_uploads_total": {"kind": "form", "outcome": "failed"},
            "ray_rivergen_events_total": {"type": PROBE, "stage": "consumed"},
        }
    )
    # Every metric of rivergen/metrics.py is there with a non-zero count.
    for spec in METRICS:
        name = spec.exported + ("_count" if spec.kind == "histogram" else "")
        assert total(found, name) > 0, name
    # ... recorded where it happened, with the labels an operator filters on.
    assert (
        total(
            found,
            "ray_rivergen_requests_total",
            method="POST",
            route="/api/v1/auth/register",
            status="201",
        )
        >= 1
    )
    assert total(found, "ray_rivergen_requests_total", route="unmatched", status="404") >= 1
    assert (
        total(found, "ray_rivergen_request_duration_seconds_count", route="/api/v1/jobs/{job_id}")
        >= 1
    )
    assert total(found, "ray_rivergen_jobs_total", kind="pagerank", state="started") >= 1
    assert (
        total(found, "ray_rivergen_job_duration_seconds_count", kind="pagerank", state="succeeded")
        >= 1
    )
    assert total(found, "ray_rivergen_kernel_nnz_total", kernel="pagerank") >= 5
    assert total(found, "ray_rivergen_uploads_total", kind="direct", outcome="completed") >= 1
    assert total(found, "ray_rivergen_upload_bytes_total", kind="direct") >= len(edges)
    assert (
        total(found, "ray_rivergen_upload_duration_seconds_count", kind="form", outcome="failed")
        >= 1
    )
    assert (
        total(
            found, "ray_rivergen_events_total", type=PROBE, stage="published", group="outbox-relay"
        )
        >= 1
    )
    assert total(found, "ray_rivergen_events_total", type=PROBE, stage="consumed") >= 1
    assert total(found, "ray_rivergen_event_lag_seconds_count", stage="published") >= 1
    assert total(found, "ray_rivergen_event_lag_seconds_count", stage="consumed") >= 1


@ray.remote
def timed_calls() -> None:
    record_kernel("bucket_probe", 0.02, 1234)
    record_kernel("bucket_probe", 0.3, 1234)
    record_job("bucket_probe", "succeeded", 3.0)


async def test_histograms_bucket_what_a_task_observed(ray_with_metrics: None) -> None:
    ray.get(timed_calls.remote())
    found = await scrape_until(
        {
            "ray_rivergen_job_duration_seconds_count": {"kind": "bucket_probe"},
            "ray_rivergen_kernel_duration_seconds_count": {"kernel": "bucket_probe"},
        }
    )
    kernel = {"kernel": "bucket_probe"}
    assert total(found, "ray_rivergen_kernel_nnz_total", **kernel) == 2468
    assert total(found, "ray_rivergen_kernel_duration_seconds_count", **kernel) == 2
    bucket = "ray_rivergen_kernel_duration_seconds_bucket"
    assert total(found, bucket, **kernel, le="0.01") == 0
    assert total(found, bucket, **kernel, le="0.025") == 1
    assert total(found, bucket, **kernel, le="0.5") == 2
    job = {"kind": "bucket_probe", "state": "succeeded"}
    assert total(found, "ray_rivergen_job_duration_seconds_bucket", **job, le="2.0") == 0
    assert total(found, "ray_rivergen_job_duration_seconds_bucket", **job, le="5.0") == 1


def test_helpers_refuse_an_unknown_job_state(ray_with_metrics: None) -> None:
    with pytest.raises(ValueError, match="state must be one of"):
        record_job("pagerank", "finished")  # type: ignore[arg-type]
