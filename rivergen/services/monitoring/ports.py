"""What Model Monitoring needs from compute (Ray tasks; see compute/monitoring.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from rivergen.services.monitoring.drift import MonitoredFeature
from rivergen.services.monitoring.schemas import DriftReport, DriftThresholds


class MonitoringCompute(Protocol):
    async def drift(
        self,
        reference: Any,
        current: Any,
        features: Sequence[MonitoredFeature],
        thresholds: DriftThresholds,
        skipped: Sequence[str],
    ) -> DriftReport:
        """The drift report of two staged tables (references from ``DatasetService.load``)."""
        ...

    async def rows(self, table: Any, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` rows of a staged table, as dicts."""
        ...
