"""Model Monitoring: drift between a model's training data and new data, and its performance
when labels arrive (see :mod:`rivergen.services.monitoring.drift` for the statistics)."""

from rivergen.services.monitoring.drift import (
    MonitoredFeature,
    classification_metrics,
    drift_report,
    performance_report,
    regression_metrics,
)
from rivergen.services.monitoring.ports import MonitoringCompute
from rivergen.services.monitoring.schemas import (
    DriftReport,
    DriftThresholds,
    FeatureDrift,
    MonitoringCheck,
    MonitoringPage,
    MonitoringReport,
    PerformanceReport,
)
from rivergen.services.monitoring.service import MonitoringService

__all__ = [
    "DriftReport",
    "DriftThresholds",
    "FeatureDrift",
    "MonitoredFeature",
    "MonitoringCheck",
    "MonitoringCompute",
    "MonitoringPage",
    "MonitoringReport",
    "MonitoringService",
    "PerformanceReport",
    "classification_metrics",
    "drift_report",
    "performance_report",
    "regression_metrics",
]
