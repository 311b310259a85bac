"""RiverGen's custom metrics, exported by Ray next to its own (each node's Prometheus
endpoint, the dashboard's Metrics tab, Grafana).

Call the ``record_*`` helpers from anywhere: inside a Ray task or actor, on a driver connected to
Ray, or in a process without Ray (then they do nothing). The metric objects are made on first
use, once per process, so importing this module never imports or needs Ray.

=====================================  =========  ==========================================
Prometheus name (Ray adds ``ray_``)    Type       Tags
=====================================  =========  ==========================================
``rivergen_jobs_total``                counter    ``kind``, ``state`` (started, succeeded,
                                                  failed, cancelled)
``rivergen_job_duration_seconds``      histogram  ``kind``, ``state`` (the end state)
``rivergen_kernel_duration_seconds``   histogram  ``kernel``
``rivergen_kernel_nnz_total``          counter    ``kernel`` (non-zeros processed)
``rivergen_upload_bytes_total``        counter    ``kind`` (``direct``, ``form``)
``rivergen_events_total``              counter    ``type`` (the event type)
=====================================  =========  ==========================================
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = [
    "JOB_STATES",
    "JobState",
    "KernelTiming",
    "record_event",
    "record_job",
    "record_kernel",
    "record_upload",
    "timed_kernel",
]

JobState = Literal["started", "succeeded", "failed", "cancelled"]
JOB_STATES: tuple[str, ...] = get_args(JobState)

_JOB_SECONDS = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800, 3600]
_KERNEL_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

_lock = threading.Lock()
# Metric objects of this process (a forked child makes its own), by name.
_made: dict[str, Any] = {}
_made_in: int | None = None


def _ray_ready() -> bool:
    # Only look at Ray if something in this process imported it already: a process without
    # Ray stays without it.
    import sys

    ray = sys.modules.get("ray")
    return ray is not None and bool(ray.is_initialized())


def _metric(name: str) -> Any:
    global _made_in
    with _lock:
        if _made_in != os.getpid():
            _made.clear()
            _made_in = os.getpid()
        if name not in _made:
            _made[name] = _build(name)
        return _made[name]


def _build(name: str) -> Any:
    from ray.util.metrics import Counter, Histogram

    specs: dict[str, Any] = {
        "jobs": lambda: Counter(
            "rivergen_jobs", "Compute jobs by kind and state reached.", ("kind", "state")
        ),
        "job_duration": lambda: Histogram(
            "rivergen_job_duration_seconds",
            "Wall time of finished jobs.",
            _JOB_SECONDS,
            ("kind", "state"),
        ),
        "kernel_duration": lambda: Histogram(
            "rivergen_kernel_duration_seconds",
            "Wall time of one sparse kernel call.",
            _KERNEL_SECONDS,
            ("kernel",),
        ),
        "kernel_nnz": lambda: Counter(
            "rivergen_kernel_nnz", "Non-zeros processed by sparse kernels.", ("kernel",)
        ),
        "upload_bytes": lambda: Counter(
            "rivergen_upload_bytes", "Bytes of completed uploads.", ("kind",)
        ),
        "events": lambda: Counter("rivergen_events", "Events emitted, by type.", ("type",)),
    }
    return specs[name]()


def record_job(kind: str, state: JobState, seconds: float | None = None) -> None:
    """Count a job reaching ``state``; with ``seconds`` (its wall time, for an end state) also
    observe the duration histogram."""
    if state not in JOB_STATES:
        raise ValueError(f"state must be one of {', '.join(JOB_STATES)}, not {state!r}")
    if not _ray_ready():
        return
    tags = {"kind": kind, "state": state}
    _metric("jobs").inc(1, tags=tags)
    if seconds is not None and state != "started":
        _metric("job_duration").observe(max(0.0, seconds), tags=tags)


def record_kernel(name: str, seconds: float, nnz: int = 0) -> None:
    """One call of the sparse kernel ``name``: its wall time and the non-zeros it touched."""
    if not _ray_ready():
        return
    tags = {"kernel": name}
    _metric("kernel_duration").observe(max(0.0, seconds), tags=tags)
    if nnz > 0:
        _metric("kernel_nnz").inc(nnz, tags=tags)


@dataclass
class KernelTiming:
    """Set ``nnz`` inside a :func:`timed_kernel` block: the non-zeros the call touched."""

    nnz: int = 0


@contextmanager
def timed_kernel(name: str) -> Iterator[KernelTiming]:
    """Time the block as one call of kernel ``name`` (recorded even if it raises)::

    with timed_kernel("spmv") as call:
        y = block @ x
        call.nnz = block.nnz
    """
    timing = KernelTiming()
    started = time.perf_counter()
    try:
        yield timing
    finally:
        record_kernel(name, time.perf_counter() - started, timing.nnz)


def record_upload(size_bytes: int, kind: Literal["direct", "form"] = "direct") -> None:
    """A completed upload of ``size_bytes``."""
    if size_bytes > 0 and _ray_ready():
        _metric("upload_bytes").inc(size_bytes, tags={"kind": kind})


def record_event(event_type: str) -> None:
    """One event of ``event_type`` (``job.completed``, ``storage.file.created``, ...)."""
    if _ray_ready():
        _metric("events").inc(1, tags={"type": event_type})
