"""RiverGen's custom metrics, exported by Ray next to its own (each node's Prometheus
endpoint, the dashboard's Metrics tab, Grafana: ``deployments/grafana/rivergen.json``).

Call the ``record_*`` helpers where the thing happens. They hand each value to the process's
:class:`MetricSink` (the port); with none, they do nothing. Ray's sink (``compute/metrics.py``)
is installed in every process that loads ``compute`` or ``deployments`` (a Ray task or actor, a
Serve replica, a driver connected to Ray) and records only once Ray is initialized: importing
this module never imports or needs Ray. :data:`METRICS` lists every metric (the dashboard and
its test read it).

Five families, each a counter and a latency histogram (Ray adds the ``ray_`` prefix, and
``_total`` to counters):

============================================  =========  ===================================
Prometheus name                               Type       Tags
============================================  =========  ===================================
``ray_rivergen_requests_total``               counter    ``method``, ``route`` (the route's
                                                         template), ``status``
``ray_rivergen_request_duration_seconds``     histogram  ``method``, ``route``
``ray_rivergen_jobs_total``                   counter    ``kind``, ``state`` (started,
                                                         succeeded, failed, cancelled)
``ray_rivergen_job_duration_seconds``         histogram  ``kind``, ``state`` (the end state)
``ray_rivergen_kernel_nnz_total``             counter    ``kernel`` (non-zeros processed)
``ray_rivergen_kernel_duration_seconds``      histogram  ``kernel``
``ray_rivergen_uploads_total``                counter    ``kind`` (direct, form),
                                                         ``outcome`` (completed, failed)
``ray_rivergen_upload_bytes_total``           counter    ``kind`` (completed uploads)
``ray_rivergen_upload_duration_seconds``      histogram  ``kind``, ``outcome``
``ray_rivergen_events_total``                 counter    ``type``, ``stage`` (published,
                                                         consumed), ``group``
``ray_rivergen_event_lag_seconds``            histogram  ``stage``, ``group``: from the
                                                         event's ``occurred_at`` to then
============================================  =========  ===================================

Where each is recorded: requests in the apps' ASGI middleware (:mod:`rivergen.api.metrics`),
jobs in the job supervisor (``compute/jobs/supervisor.py``), kernels in the Sparse Native
kernels themselves (``compute/sparse/``), uploads in the Storage Service's completion paths
(``rivergen/storage/service.py``), events in the outbox relay (published) and in each consumer
(consumed: the idempotent consumers, the notification bridge, the simulation worker).

Ray 2.60 computes a histogram's ``_sum`` from bucket midpoints: use ``_count`` and the buckets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol, get_args

__all__ = [
    "EVENT_STAGES",
    "JOB_STATES",
    "METRICS",
    "EventStage",
    "JobState",
    "KernelTiming",
    "MetricSink",
    "MetricSpec",
    "UploadOutcome",
    "record_event",
    "record_job",
    "record_kernel",
    "record_request",
    "record_upload",
    "timed_kernel",
    "use_sink",
]

JobState = Literal["started", "succeeded", "failed", "cancelled"]
JOB_STATES: tuple[str, ...] = get_args(JobState)
UploadOutcome = Literal["completed", "failed"]
EventStage = Literal["published", "consumed"]
EVENT_STAGES: tuple[str, ...] = get_args(EventStage)
RELAY_GROUP = "outbox-relay"
"""The ``group`` tag of published events: the outbox relay publishes every event."""

_REQUEST_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_JOB_SECONDS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800, 3600)
_KERNEL_SECONDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_UPLOAD_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_EVENT_LAG_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


@dataclass(frozen=True)
class MetricSpec:
    """One metric as Ray registers it; :attr:`exported` is its Prometheus name."""

    key: str
    name: str
    kind: Literal["counter", "histogram"]
    description: str
    tags: tuple[str, ...]
    boundaries: tuple[float, ...] = ()

    @property
    def exported(self) -> str:
        """The name on a node's Prometheus endpoint (histograms add ``_bucket``, ``_count``,
        ``_sum`` to it)."""
        return f"ray_{self.name}" + ("_total" if self.kind == "counter" else "")


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "requests",
        "rivergen_requests",
        "counter",
        "HTTP requests answered by the API apps.",
        ("method", "route", "status"),
    ),
    MetricSpec(
        "request_duration",
        "rivergen_request_duration_seconds",
        "histogram",
        "Time to answer one HTTP request.",
        ("method", "route"),
        _REQUEST_SECONDS,
    ),
    MetricSpec(
        "jobs",
        "rivergen_jobs",
        "counter",
        "Compute jobs by kind and state reached.",
        ("kind", "state"),
    ),
    MetricSpec(
        "job_duration",
        "rivergen_job_duration_seconds",
        "histogram",
        "Wall time of finished jobs.",
        ("kind", "state"),
        _JOB_SECONDS,
    ),
    MetricSpec(
        "kernel_nnz",
        "rivergen_kernel_nnz",
        "counter",
        "Non-zeros processed by Sparse Native kernels.",
        ("kernel",),
    ),
    MetricSpec(
        "kernel_duration",
        "rivergen_kernel_duration_seconds",
        "histogram",
        "Wall time of one Sparse Native kernel call.",
        ("kernel",),
        _KERNEL_SECONDS,
    ),
    MetricSpec(
        "uploads",
        "rivergen_uploads",
        "counter",
        "Uploads that completed or failed.",
        ("kind", "outcome"),
    ),
    MetricSpec(
        "upload_bytes", "rivergen_upload_bytes", "counter", "Bytes of completed uploads.", ("kind",)
    ),
    MetricSpec(
        "upload_duration",
        "rivergen_upload_duration_seconds",
        "histogram",
        "Time to verify and record an upload (a direct upload's completion, a form "
        "upload's request).",
        ("kind", "outcome"),
        _UPLOAD_SECONDS,
    ),
    MetricSpec(
        "events",
        "rivergen_events",
        "counter",
        "Events published by the outbox relay and consumed by the consumers.",
        ("type", "stage", "group"),
    ),
    MetricSpec(
        "event_lag",
        "rivergen_event_lag_seconds",
        "histogram",
        "Seconds from an event's occurred_at to its publication or consumption.",
        ("stage", "group"),
        _EVENT_LAG_SECONDS,
    ),
)
_SPECS = {spec.key: spec for spec in METRICS}


class MetricSink(Protocol):
    """Where recorded values go: a counter's increment, a histogram's observation."""

    def inc(self, spec: MetricSpec, amount: float, tags: Mapping[str, str]) -> None: ...

    def observe(self, spec: MetricSpec, value: float, tags: Mapping[str, str]) -> None: ...

    def ready(self) -> bool:
        """Whether anything records now (the helpers skip their work otherwise)."""
        ...


_sink: MetricSink | None = None


def use_sink(sink: MetricSink | None) -> None:
    """Send this process's metrics to ``sink`` (None: record nothing)."""
    global _sink
    _sink = sink


def _active() -> MetricSink | None:
    return _sink if _sink is not None and _sink.ready() else None


def _inc(sink: MetricSink, key: str, amount: float, tags: Mapping[str, str]) -> None:
    sink.inc(_SPECS[key], amount, tags)


def _observe(sink: MetricSink, key: str, value: float, tags: Mapping[str, str]) -> None:
    sink.observe(_SPECS[key], max(0.0, value), tags)


def record_request(method: str, route: str, status: int, seconds: float) -> None:
    """One HTTP request answered with ``status`` after ``seconds``. ``route`` is the matched
    route's template (``/api/v1/jobs/{job_id}``), never the raw path (one series per route)."""
    if (sink := _active()) is None:
        return
    _inc(sink, "requests", 1, {"method": method, "route": route, "status": str(status)})
    _observe(sink, "request_duration", seconds, {"method": method, "route": route})


def record_job(kind: str, state: JobState, seconds: float | None = None) -> None:
    """Count a job reaching ``state``; with ``seconds`` (its wall time, for an end state) also
    observe the duration histogram."""
    if state not in JOB_STATES:
        raise ValueError(f"state must be one of {', '.join(JOB_STATES)}, not {state!r}")
    if (sink := _active()) is None:
        return
    tags = {"kind": kind, "state": state}
    _inc(sink, "jobs", 1, tags)
    if seconds is not None and state != "started":
        _observe(sink, "job_duration", seconds, tags)


def record_kernel(name: str, seconds: float, nnz: int = 0) -> None:
    """One call of the sparse kernel ``name``: its wall time and the non-zeros it touched."""
    if (sink := _active()) is None:
        return
    tags = {"kernel": name}
    _observe(sink, "kernel_duration", seconds, tags)
    if nnz > 0:
        _inc(sink, "kernel_nnz", nnz, tags)


@dataclass
class KernelTiming:
    """Set ``nnz`` inside a :func:`timed_kernel` block: the non-zeros the call touched."""

    nnz: int = 0


@contextmanager
def timed_kernel(name: str, nnz: int = 0) -> Iterator[KernelTiming]:
    """Time the block as one call of kernel ``name`` (recorded even if it raises)::

    with timed_kernel("spmv", blocks.nnz):
        y = ...
    """
    timing = KernelTiming(nnz)
    started = time.perf_counter()
    try:
        yield timing
    finally:
        record_kernel(name, time.perf_counter() - started, timing.nnz)


def record_upload(
    size_bytes: int,
    kind: Literal["direct", "form"] = "direct",
    *,
    seconds: float | None = None,
    outcome: UploadOutcome = "completed",
) -> None:
    """An upload that ``outcome``: a completed one counts its ``size_bytes``; ``seconds`` is
    the time its verification and recording took."""
    if (sink := _active()) is None:
        return
    _inc(sink, "uploads", 1, {"kind": kind, "outcome": outcome})
    if outcome == "completed" and size_bytes > 0:
        _inc(sink, "upload_bytes", size_bytes, {"kind": kind})
    if seconds is not None:
        _observe(sink, "upload_duration", seconds, {"kind": kind, "outcome": outcome})


def record_event(
    event_type: str,
    stage: EventStage = "published",
    group: str = RELAY_GROUP,
    occurred_at: datetime | None = None,
) -> None:
    """One event of ``event_type`` published by the outbox relay, or consumed by the consumer
    ``group``; with ``occurred_at`` also observe the lag from then to now."""
    if (sink := _active()) is None:
        return
    _inc(sink, "events", 1, {"type": event_type, "stage": stage, "group": group})
    if occurred_at is not None:
        lag = (datetime.now(UTC) - occurred_at).total_seconds()
        _observe(sink, "event_lag", lag, {"stage": stage, "group": group})
