"""Ray's :class:`rivergen.metrics.MetricSink`: each metric of :data:`rivergen.metrics.METRICS` as a
``ray.util.metrics`` counter or histogram, exported by every Ray node's Prometheus endpoint.

Installed when ``compute`` (a Ray task or actor, a driver) or ``deployments`` (a Serve replica)
is loaded. It records once Ray is initialized in the process; the metric objects are made on
first use, once per process (a forked child makes its own), so importing this module never
imports or needs Ray.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from typing import Any

from rivergen import metrics
from rivergen.metrics import MetricSpec


class RayMetrics:
    """The metrics of this process as Ray's metric objects, by key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: dict[str, Any] = {}
        self._made_in: int | None = None

    def ready(self) -> bool:
        # Only look at Ray if something in this process imported it already: a process without
        # Ray stays without it.
        ray = sys.modules.get("ray")
        return ray is not None and bool(ray.is_initialized())

    def inc(self, spec: MetricSpec, amount: float, tags: Mapping[str, str]) -> None:
        self._metric(spec).inc(amount, tags=dict(tags))

    def observe(self, spec: MetricSpec, value: float, tags: Mapping[str, str]) -> None:
        self._metric(spec).observe(value, tags=dict(tags))

    def _metric(self, spec: MetricSpec) -> Any:
        with self._lock:
            if self._made_in != os.getpid():
                self._made.clear()
                self._made_in = os.getpid()
            if spec.key not in self._made:
                self._made[spec.key] = _build(spec)
            return self._made[spec.key]


def _build(spec: MetricSpec) -> Any:
    from ray.util.metrics import Counter, Histogram

    if spec.kind == "counter":
        return Counter(spec.name, spec.description, spec.tags)
    return Histogram(spec.name, spec.description, list(spec.boundaries), spec.tags)


_RAY_METRICS = RayMetrics()


def install() -> None:
    """Send this process's metrics to Ray (idempotent)."""
    metrics.use_sink(_RAY_METRICS)
