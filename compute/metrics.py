"""Ray's :class:`rivergen.metrics.MetricSink`: each metric of :data:`rivergen.metrics.METRICS` as a
``ray.util.metrics`` counter or histogram, exported by every Ray node's Prometheus endpoint.

Installed when ``compute`` (a Ray task or actor, a driver) or ``deployments`` (a Serve replica)
is loaded. It records once Ray is initialized in the process; the metric objects are made on
first use, once per process (a forked child makes its own), so importing this module never
imports or needs Ray.

Off the caller's path: a value is queued (a deque append) and a thread of the process hands
the queue to Ray's metric objects every ``FLUSH_S`` (a Ray ``observe`` costs 5-10 us of Python,
as much as a small SpMV or a request's own work); Ray's metrics agent exports every few
seconds anyway. What a process queues in its last ``FLUSH_S`` is handed over at exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from rivergen import metrics
from rivergen.metrics import MetricSpec

log = logging.getLogger(__name__)

# How often a process's queued values reach Ray's metric objects.
FLUSH_S = 0.25
# Values a process holds at most between two flushes (the oldest go first).
QUEUE_MAX = 100_000


class RayMetrics:
    """The metrics of this process as Ray's metric objects, by key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: dict[str, Any] = {}
        self._made_in: int | None = None
        # Bounded: were Ray's metric objects to stop taking values, memory would not grow.
        self._queued: deque[tuple[MetricSpec, bool, float, dict[str, str]]] = deque(
            maxlen=QUEUE_MAX
        )
        self._flushing_in: int | None = None

    def ready(self) -> bool:
        # Only look at Ray if something in this process imported it already: a process without
        # Ray stays without it.
        ray = sys.modules.get("ray")
        return ray is not None and bool(ray.is_initialized())

    def inc(self, spec: MetricSpec, amount: float, tags: Mapping[str, str]) -> None:
        self._queue(spec, True, amount, tags)

    def observe(self, spec: MetricSpec, value: float, tags: Mapping[str, str]) -> None:
        self._queue(spec, False, value, tags)

    def flush(self) -> None:
        """Hand every queued value to Ray's metric objects now."""
        while True:
            try:
                spec, counter, value, tags = self._queued.popleft()
            except IndexError:
                return
            try:
                metric = self._metric(spec)
                if counter:
                    metric.inc(value, tags=tags)
                else:
                    metric.observe(value, tags=tags)
            except Exception as exc:  # Ray shut down meanwhile: the value is dropped
                log.debug("metric %s not recorded: %s", spec.name, exc)

    def _queue(
        self, spec: MetricSpec, counter: bool, value: float, tags: Mapping[str, str]
    ) -> None:
        if self._flushing_in != os.getpid():
            self._start_flushing()
        self._queued.append((spec, counter, value, dict(tags)))

    def _start_flushing(self) -> None:
        with self._lock:
            if self._flushing_in == os.getpid():
                return
            if self._flushing_in is not None:
                self._queued.clear()  # a forked child: what is queued is its parent's
            else:
                atexit.register(self.flush)
            self._flushing_in = os.getpid()
            threading.Thread(target=self._flush_every, daemon=True, name="ray-metrics").start()

    def _flush_every(self) -> None:
        while True:
            time.sleep(FLUSH_S)
            self.flush()

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
