"""The Model Monitoring service: checks a model version against a dataset (drift from the
version's training data; performance when the dataset holds the target), keeps each report,
and raises ``model.drift_detected`` / ``model.performance_degraded`` on ``model.metrics`` when
a threshold is crossed (the notification bridge shows them in the workspace's room).

Both datasets are read as the caller's policies let them see them; the statistics run as Ray
tasks next to the data (:mod:`compute.monitoring`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import numpy as np

from rivergen.accounts.principal import RequestContext
from rivergen.datasets import DatasetService
from rivergen.db import Database
from rivergen.errors import Conflict, ValidationFailed
from rivergen.events import Event, Topic, add_to_outbox
from rivergen.notifications.events import MODEL_DRIFT_DETECTED, MODEL_PERFORMANCE_DEGRADED
from rivergen.pagination import decode_cursor, encode_cursor
from rivergen.services.governance import GovernanceService, Governed, changes_data, check_columns
from rivergen.services.governance.evaluation import shows_more
from rivergen.services.governance.service import load_record, record_of
from rivergen.services.ml.schemas import ModelLookup, ModelVersionView, Predictor
from rivergen.services.monitoring import store
from rivergen.services.monitoring.drift import (
    MonitoredFeature,
    classification_metrics,
    performance_report,
    regression_metrics,
)
from rivergen.services.monitoring.ports import MonitoringCompute
from rivergen.services.monitoring.schemas import (
    DriftReport,
    DriftThresholds,
    FeatureKind,
    MonitoringCheck,
    MonitoringPage,
    MonitoringReport,
    PerformanceReport,
)

# Labelled rows scored for performance, at most, and per call to the predictor.
MAX_SCORED_ROWS = 20_000
PREDICT_BATCH = 1_000


class MonitoringService:
    def __init__(
        self,
        db: Database,
        datasets: DatasetService,
        governance: GovernanceService,
        lookup: ModelLookup,
        predictor: Predictor | None = None,
        *,
        compute: MonitoringCompute,
        thresholds: DriftThresholds | None = None,
    ) -> None:
        self._db = db
        self._datasets = datasets
        self._governance = governance
        self._lookup = lookup
        self._predictor = predictor
        self._compute = compute
        self._thresholds = thresholds or DriftThresholds()

    async def check(
        self,
        context: RequestContext,
        model_id: UUID,
        dataset_id: UUID,
        version: int | None = None,
        *,
        model_version: int | str | None = None,
    ) -> MonitoringReport:
        """Check a model version (default: the champion) against a dataset version (default:
        the current); keep the report and, past a threshold, emit its event. 404
        ``model_not_found`` / ``dataset_not_found``; 403 ``column_denied`` when the caller may
        not read a feature; 422 ``feature_columns_missing`` when the dataset lacks features."""
        workspace = context.require_workspace()
        model = await self._lookup.version(context, model_id, model_version)
        current_number, current_key = await self._datasets.version_key(context, dataset_id, version)
        _, reference_key = await self._datasets.version_key(
            context, model.dataset_id, model.dataset_version
        )
        monitored, skipped = _monitored(model)
        columns = [f.name for f in monitored]
        governed = await self._governance.governed(context, [model.dataset_id, dataset_id])
        for g in governed.values():
            check_columns(g, columns)
        current_columns = await self._columns(context, dataset_id, current_number)
        missing = [c for c in columns if c not in current_columns]
        if missing:
            raise ValidationFailed(
                f"the dataset has no column {', '.join(map(repr, missing))} the model uses",
                code="feature_columns_missing",
                details={"columns": missing},
            )
        reference = self._datasets.load(
            reference_key, columns, _effective(governed[model.dataset_id])
        )
        labelled = model.target in current_columns
        current = self._datasets.load(
            current_key,
            columns + ([model.target] if labelled else []),
            _effective(governed[dataset_id]),
        )
        drift = await self._compute.drift(reference, current, monitored, self._thresholds, skipped)
        performance, note = await self._performance(context, model, current, labelled)
        report = MonitoringReport(
            id=uuid.uuid4(),
            model_id=model.model_id,
            model_version=model.version,
            dataset_id=dataset_id,
            dataset_version=current_number,
            reference_dataset_id=model.dataset_id,
            reference_version=model.dataset_version,
            drift=drift,
            performance=performance,
            performance_note=note,
            alerted=drift.drifted or (performance is not None and performance.degraded),
            created_by=context.actor,
            created_at=datetime.now(UTC),
        )
        # Events go to every member: no figures of data policies govern for anyone.
        broadcast = not await self._governance.governs_anyone(
            workspace, [model.dataset_id, dataset_id]
        )
        async with self._db.transaction(str(workspace)) as conn:
            await store.insert(conn, workspace, report, record_of(governed))
            for event in _events(report, workspace, context.actor, figures=broadcast):
                await add_to_outbox(conn, Topic.MODEL_METRICS, event)
        return report

    async def history(
        self, context: RequestContext, model_id: UUID, limit: int = 20, cursor: str | None = None
    ) -> MonitoringPage:
        """The model's reports, newest first; 404 ``model_not_found`` for a model the caller's
        workspace does not have."""
        model = await self._lookup.version(context, model_id)
        after = decode_cursor(cursor)
        async with self._db.transaction(str(context.require_workspace())) as conn:
            rows = await store.page(conn, model_id, after, limit)
        reports = [MonitoringReport.model_validate_json(r["report"]) for r in rows[:limit]]
        datasets = {d for r in reports for d in (r.dataset_id, r.reference_dataset_id)}
        reader = await self._governance.governed(context, datasets)
        items = []
        for report, row in zip(reports, rows[:limit], strict=True):
            # Computed under its creator's policies: shown to readers they hide no more from.
            pair = [report.dataset_id, report.reference_dataset_id]
            creator = load_record(row["governance"], pair)
            assert report.drift is not None
            columns = {f.name for f in report.drift.features} | {model.target}
            if any(shows_more(reader[d], creator[d], columns) for d in pair):
                report = _withheld(report)
            items.append(report)
        return MonitoringPage(
            items=items,
            next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
        )

    async def run(
        self, context: RequestContext, model_id: UUID, request: MonitoringCheck
    ) -> MonitoringReport:
        """:meth:`check` with the API's request body."""
        return await self.check(
            context,
            model_id,
            request.dataset_id,
            request.version,
            model_version=request.model_version,
        )

    async def _columns(self, context: RequestContext, dataset: UUID, number: int) -> set[str]:
        view = await self._datasets.get(context, dataset)
        return {c.name for v in view.versions if v.version == number for c in v.columns}

    def _unscored(self, model: ModelVersionView, labelled: bool) -> str | None:
        """Why the current data cannot be scored for performance; None when it can."""
        if self._predictor is None:
            return "no predictor is configured"
        if not labelled:
            return f"the dataset has no column {model.target!r} (the target)"
        if not model.deployed:
            return f"version {model.version} of the model is not deployed"
        if model.data_withheld:
            return (
                "your policies hide more of the model's training data than its trainer's did: "
                "its scores are not yours"
            )
        return None

    async def _performance(
        self, context: RequestContext, model: ModelVersionView, current: Any, labelled: bool
    ) -> tuple[PerformanceReport | None, str | None]:
        reason = self._unscored(model, labelled)
        if reason is not None:
            return None, reason
        rows = await self._compute.rows(current, MAX_SCORED_ROWS)
        rows = [r for r in rows if r.get(model.target) is not None]
        if not rows:
            return None, f"no row has a value of {model.target!r}"
        features = [{k: v for k, v in r.items() if k != model.target} for r in rows]
        predictions = []
        assert self._predictor is not None
        for start in range(0, len(features), PREDICT_BATCH):
            batch = features[start : start + PREDICT_BATCH]
            try:
                scored = await self._predictor.predict(
                    context, model.model_id, batch, version=model.version
                )
            except Conflict as exc:  # undeployed since the lookup: drift still stands
                if exc.error_code != "model_not_deployed":
                    raise
                return None, f"version {model.version} of the model is not deployed"
            predictions.extend(scored)
        scores = np.array([p.score for p in predictions], dtype=np.float64)
        actual = [r[model.target] for r in rows]
        if model.task == "regression":
            metrics = regression_metrics(np.asarray(actual, dtype=np.float64), scores)
        else:
            positive = _positive_label(model, predictions, actual)
            if positive is None:
                return None, "the labels do not say which class is the positive one"
            truth = np.array([_same(a, positive) for a in actual], dtype=np.float64)
            metrics = classification_metrics(truth, scores)
        return performance_report(
            model.task, metrics, model.metrics, len(rows), self._thresholds
        ), None


def _monitored(model: ModelVersionView) -> tuple[list[MonitoredFeature], list[str]]:
    """Each feature column once: numeric ones as numbers, one-hot and hashed ones as
    categories; text (TF-IDF) columns are not monitored."""
    monitored: dict[str, MonitoredFeature] = {}
    skipped: list[str] = []
    for spec in model.features:
        if spec.encoding == "tfidf":
            skipped.append(spec.column)
        elif spec.column not in monitored:
            kind: FeatureKind = "numeric" if spec.encoding == "numeric" else "categorical"
            monitored[spec.column] = MonitoredFeature(spec.column, kind)
    return list(monitored.values()), [c for c in skipped if c not in monitored]


def _effective(governed: Governed) -> Governed | None:
    return governed if changes_data(governed) else None


def _positive_label(
    model: ModelVersionView, predictions: Sequence[Any], actual: Sequence[Any]
) -> Any:
    """The class ``score`` is the probability of: ``params.positive_label`` if the registry
    keeps it; else the label predicted where the score is at least 0.5 (or, when every score is
    below, the one label of the data that is never predicted)."""
    if "positive_label" in model.params:
        return model.params["positive_label"]
    above = {str(p.label) for p in predictions if p.score >= 0.5}
    if len(above) == 1:
        return next(iter(above))
    below = {str(p.label) for p in predictions if p.score < 0.5}
    others = {str(a) for a in actual} - below
    return next(iter(others)) if len(below) == 1 and len(others) == 1 else None


def _same(value: Any, label: Any) -> bool:
    return str(value) == str(label)


def _withheld(report: MonitoringReport) -> MonitoringReport:
    """``report`` without its statistics (what it checked, when and by whom stay)."""
    return report.model_copy(
        update={
            "drift": None,
            "performance": None,
            "performance_note": None,
            "data_withheld": True,
        }
    )


def _events(
    report: MonitoringReport, workspace: UUID, actor: str, *, figures: bool = True
) -> list[Event]:
    """The report's events; without its figures (scores, metrics) when not ``figures``."""
    data: dict[str, Any] = {
        "model_id": str(report.model_id),
        "version": report.model_version,
        "report_id": str(report.id),
        "dataset_id": str(report.dataset_id),
        "dataset_version": report.dataset_version,
    }
    events = []
    assert report.drift is not None
    if report.drift.drifted:
        summary = _drift_summary(report.drift)
        if not figures:
            summary["multivariate_score"] = None
        events.append(
            Event(
                type=MODEL_DRIFT_DETECTED,
                workspace_id=workspace,
                actor=actor,
                data={**data, **summary},
            )
        )
    if report.performance is not None and report.performance.degraded:
        events.append(
            Event(
                type=MODEL_PERFORMANCE_DEGRADED,
                workspace_id=workspace,
                actor=actor,
                data={
                    **data,
                    "degraded_metrics": report.performance.degraded_metrics,
                    "metrics": report.performance.metrics if figures else {},
                    "training_metrics": report.performance.training_metrics if figures else {},
                },
            )
        )
    return events


def _drift_summary(drift: DriftReport) -> dict[str, Any]:
    return {
        "drifted_features": drift.drifted_features,
        "multivariate_score": drift.multivariate_score,
        "multivariate_drifted": drift.multivariate_drifted,
    }
