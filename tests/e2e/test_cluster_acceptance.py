"""The multi-node acceptance on the suite's cluster (head and two `ray start --address` nodes):
a compute job's Ray tasks run on the extra nodes, and after it the platform's custom metrics
(rivergen/metrics.py) are served by the nodes' Prometheus endpoints."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import SHARED_DATA
from tests.e2e.cluster import RayCluster

pytestmark = pytest.mark.slow

WIKI_VOTE = SHARED_DATA / "graphs" / "wiki-vote.txt"
# compute.sparse.products: the SpMV of each PageRank iteration, one task per row block.
SPMV_TASK = "_times"
FINISHED = ("succeeded", "failed", "cancelled")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def pagerank_job(cluster: RayCluster) -> dict[str, Any]:
    """PageRank of the SNAP wiki-vote graph as a job through the platform's API; the finished
    job as `GET /api/v1/jobs/{id}` shows it."""
    with httpx.Client(base_url=cluster.api_url, timeout=60) as http:
        registered = http.post(
            "/api/v1/auth/register",
            json={
                "email": f"cluster-{uuid.uuid4().hex[:10]}@example.com",
                "password": "a long enough password",
                "display_name": "Cluster",
            },
        )
        assert registered.status_code == 201, registered.text
        auth = {"Authorization": f"Bearer {registered.json()['access_token']}"}
        uploaded = http.post(
            "/api/v1/storage/upload",
            files={"file": ("wiki-vote.txt", WIKI_VOTE.read_bytes(), "text/plain")},
            headers=auth,
        )
        assert uploaded.status_code == 201, uploaded.text
        made = http.post(
            "/api/v1/datasets",
            headers=auth,
            json={
                "name": "wiki-vote",
                "file_id": uploaded.json()["id"],
                "options": {"delimiter": " ", "header": False, "on_invalid_rows": "skip"},
            },
        )
        assert made.status_code == 201, made.text
        accepted = http.post(
            "/api/v1/jobs",
            headers=auth,
            json={
                "kind": "pagerank",
                "params": {
                    "dataset": made.json()["id"],
                    "src": "f0",
                    "dst": "f1",
                    "tol": 1e-10,
                },
            },
        )
        assert accepted.status_code == 202, accepted.text
        job = finished(http, accepted.json()["job_id"], auth)
    assert job["state"] == "succeeded", job
    return job


def finished(
    http: httpx.Client, job_id: str, auth: dict[str, str], timeout_s: float = 180
) -> dict[str, Any]:
    """The job once it has finished. Polls once a second: the plan allows 60 requests a
    minute, and a busy machine may take longer than that."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = http.get(f"/api/v1/jobs/{job_id}", headers=auth)
        if response.status_code == 429:
            time.sleep(response.json()["error"]["details"]["retry_after_s"])
            continue
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["state"] in FINISHED:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(1.0)


def test_a_jobs_tasks_run_on_the_extra_nodes(
    cluster: RayCluster, pagerank_job: dict[str, Any]
) -> None:
    summary = pagerank_job["result"]["summary"]
    assert summary["converged"] and summary["task_nodes"] >= 2, summary
    nodes = {n["node_id"]: n for n in cluster.nodes()}
    extra = {i for i, n in nodes.items() if not n["is_head_node"]}
    assert len(extra) == 2
    # The state API records every task with the node it ran on (task events reach the GCS
    # within a second or so).
    deadline = time.monotonic() + 30
    while True:
        tasks = [t for t in cluster.tasks(SPMV_TASK) if t.get("node_id")]
        ran_on: dict[str, int] = {}
        for task in tasks:
            ran_on[task["node_id"]] = ran_on.get(task["node_id"], 0) + 1
        if extra <= set(ran_on) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    roles = {i: "head" if nodes[i]["is_head_node"] else "extra" for i in ran_on if i in nodes}
    print(f"\n{SPMV_TASK} tasks per node: {[(i, roles.get(i), n) for i, n in ran_on.items()]}")
    assert set(ran_on) <= set(nodes), ran_on
    assert extra <= set(ran_on), (ran_on, roles)


def samples(text: str) -> Samples:
    """Prometheus samples by name and the labels that matter here (Ray adds its own)."""
    found: Samples = {}
    ours = {"kernel", "kind", "state", "type", "le"}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = frozenset((k, v) for k, v in sample.labels.items() if k in ours)
            key = (sample.name, labels)
            found[key] = found.get(key, 0.0) + sample.value
    return found


def test_custom_metrics_are_served_by_the_nodes_metrics_endpoints(
    cluster: RayCluster, pagerank_job: dict[str, Any]
) -> None:
    job, kernel = {"kind": "pagerank"}, {"kernel": "pagerank"}
    edges = pagerank_job["result"]["summary"]["edges"]
    expected = {
        ("ray_rivergen_jobs_total", frozenset({**job, "state": "started"}.items())): 1.0,
        ("ray_rivergen_jobs_total", frozenset({**job, "state": "succeeded"}.items())): 1.0,
        (
            "ray_rivergen_job_duration_seconds_count",
            frozenset({**job, "state": "succeeded"}.items()),
        ): 1.0,
        ("ray_rivergen_kernel_duration_seconds_count", frozenset(kernel.items())): 1.0,
        ("ray_rivergen_kernel_nnz_total", frozenset(kernel.items())): float(edges),
    }
    # A process exports its metrics every few seconds: poll until the job's figures are all
    # there (one export may carry "started" and not yet "succeeded").
    deadline = time.monotonic() + 60
    while True:
        texts = cluster.scrape()
        serving = {url: text for url, text in texts.items() if "ray_rivergen_" in text}
        found: Samples = {}
        for text in serving.values():
            for key, count in samples(text).items():
                found[key] = found.get(key, 0.0) + count
        got = {key: found.get(key, 0.0) for key in expected}
        if got == expected or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    names = sorted({name for name, _ in found if name.startswith("ray_rivergen_")})
    print(f"\nrivergen metrics on {sorted(serving)}: {names}")
    # Every node serves its metrics (Ray's own at least); ours come from the processes that
    # recorded them.
    assert all("ray_node_" in text for text in texts.values()), sorted(texts)
    assert got == expected, names
