"""Routes of Model Monitoring: check a model against a dataset, and the model's reports."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, status

from rivergen.api.accounts import ERRORS
from rivergen.api.deps import MonitoringDep, PageCursor, PageLimit
from rivergen.api.security import Context, authorize
from rivergen.services.monitoring import (
    MonitoringCheck,
    MonitoringPage,
    MonitoringReport,
)

router = APIRouter(
    prefix="/api/v1", dependencies=[Depends(authorize)], responses=ERRORS, tags=["monitoring"]
)


Monitoring = MonitoringDep


@router.post("/models/{model_id}/monitoring", status_code=status.HTTP_201_CREATED)
async def check_model(
    model_id: UUID, body: MonitoringCheck, context: Context, monitoring: Monitoring
) -> MonitoringReport:
    """Compare a dataset (version `version`, default the current) with the model version's
    training data: per-feature drift (PSI; Kolmogorov-Smirnov for numerics, chi-squared for
    categoricals; Bonferroni over the features), a multivariate score (a domain classifier's
    held-out ROC AUC), and, when the dataset holds the target and the model is deployed, its
    performance next to its training metrics. The report is kept; past a threshold a
    `model.drift_detected` or `model.performance_degraded` event reaches the workspace's room."""
    return await monitoring.run(context, model_id, body)


@router.get("/models/{model_id}/monitoring")
async def model_monitoring(
    model_id: UUID,
    context: Context,
    monitoring: Monitoring,
    limit: PageLimit = 20,
    cursor: PageCursor = None,
) -> MonitoringPage:
    """The model's reports, newest first; follow `next_cursor`."""
    return await monitoring.history(context, model_id, limit, cursor)
