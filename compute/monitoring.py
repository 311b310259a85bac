"""Model Monitoring on Ray: the drift report of two staged dataset versions, computed in one
task next to the tables (they reach it from the object store, never through the caller)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import ray

from compute.tasks import outcome, require_ray
from rivergen.services.monitoring.drift import MonitoredFeature, drift_report
from rivergen.services.monitoring.schemas import DriftReport, DriftThresholds

# The statistics of one check are a few NumPy passes and two small logistic fits: one task.
MONITORING_CPUS = 0.5


def drift_of_tables(
    reference: pa.Table,
    current: pa.Table,
    features: Sequence[MonitoredFeature],
    thresholds: DriftThresholds,
    skipped: Sequence[str],
) -> DriftReport:
    return drift_report(reference, current, features, thresholds, skipped=skipped)


def head_rows(table: pa.Table, limit: int) -> list[dict[str, Any]]:
    return table.slice(0, limit).to_pylist()  # type: ignore[no-any-return]


_drift = ray.remote(num_cpus=MONITORING_CPUS)(drift_of_tables)
_rows = ray.remote(num_cpus=0.1)(head_rows)


class RayMonitoringCompute:
    """:class:`rivergen.services.monitoring.MonitoringCompute` as Ray tasks; the tables are
    references from ``RayDatasetCompute.load`` (governed for the caller there)."""

    async def drift(
        self,
        reference: Any,
        current: Any,
        features: Sequence[MonitoredFeature],
        thresholds: DriftThresholds,
        skipped: Sequence[str],
    ) -> DriftReport:
        require_ray()
        report: DriftReport = await outcome(
            _drift.remote(reference, current, list(features), thresholds, list(skipped))
        )
        return report

    async def rows(self, table: Any, limit: int) -> list[dict[str, Any]]:
        require_ray()
        rows: list[dict[str, Any]] = await outcome(_rows.remote(table, limit))
        return rows
