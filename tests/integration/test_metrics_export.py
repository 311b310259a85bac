"""RiverGen's custom metrics recorded in Ray tasks reach the node's Prometheus endpoint."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import ray
from prometheus_client.parser import text_string_to_metric_families

from compute.metrics import record_event, record_job, record_kernel, record_upload, timed_kernel

METRICS_PORT = 29310


@pytest.fixture(scope="module")
def ray_with_metrics() -> Iterator[None]:
    ray.init(
        address="local", num_cpus=2, include_dashboard=False, configure_logging=False,
        _metrics_export_port=METRICS_PORT,
        # Workers report every 10 s by default: fast enough for a test at 0.5 s.
        _system_config={"metrics_report_interval_ms": 500},
    )  # fmt: skip
    try:
        yield
    finally:
        ray.shutdown()


@ray.remote
def spmv_like(nnz: int) -> int:
    record_kernel("spmv", 0.02, nnz)
    with timed_kernel("spmv") as call:
        time.sleep(0.3)
        call.nnz = nnz
    record_job("pagerank", "started")
    record_job("pagerank", "succeeded", 3.0)
    record_upload(4096, "form")
    record_event("job.completed")
    return nnz


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Prometheus samples by name and the labels that matter here (Ray adds its own)."""
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    ours = {"kernel", "kind", "state", "type", "le"}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = frozenset((k, v) for k, v in sample.labels.items() if k in ours)
            key = (sample.name, labels)
            found[key] = found.get(key, 0.0) + sample.value
    return found


def scrape_until(
    name: str, timeout_s: float = 30.0
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        try:
            text = httpx.get(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5).text
        except httpx.HTTPError:
            text = ""
        if name in text:
            return samples(text)
        time.sleep(0.5)
    raise AssertionError(f"no {name} on the metrics endpoint in {timeout_s} s:\n{text[:2000]}")


def test_metrics_recorded_in_a_task_are_exported(ray_with_metrics: None) -> None:
    assert ray.get(spmv_like.remote(1234)) == 1234
    found = scrape_until("ray_rivergen_events_total")

    def value(name: str, **labels: str) -> float:
        return found.get((name, frozenset(labels.items())), 0.0)

    kernel = {"kernel": "spmv"}
    assert value("ray_rivergen_kernel_nnz_total", **kernel) == 2468
    assert value("ray_rivergen_kernel_duration_seconds_count", **kernel) == 2
    assert value("ray_rivergen_kernel_duration_seconds_bucket", **kernel, le="0.01") == 0
    assert value("ray_rivergen_kernel_duration_seconds_bucket", **kernel, le="0.025") == 1
    assert value("ray_rivergen_kernel_duration_seconds_bucket", **kernel, le="0.5") == 2
    job = {"kind": "pagerank"}
    assert value("ray_rivergen_jobs_total", **job, state="started") == 1
    assert value("ray_rivergen_jobs_total", **job, state="succeeded") == 1
    assert value("ray_rivergen_job_duration_seconds_count", **job, state="succeeded") == 1
    assert (
        value("ray_rivergen_job_duration_seconds_bucket", **job, state="succeeded", le="5.0") == 1
    )
    assert value("ray_rivergen_upload_bytes_total", kind="form") == 4096
    assert value("ray_rivergen_events_total", type="job.completed") == 1


def test_helpers_refuse_an_unknown_job_state(ray_with_metrics: None) -> None:
    with pytest.raises(ValueError, match="state must be one of"):
        record_job("pagerank", "finished")  # type: ignore[arg-type]
