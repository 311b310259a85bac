"""Drift and performance statistics, pure (NumPy and SciPy; no Ray, no I/O).

Per feature, between the reference (the model's training data) and the current data:

- PSI over ``bins`` quantile bins of the reference (plus a bin for nulls), with empty bins
  floored at 1e-4 so the index stays finite;
- numeric: the two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``) on non-null values
  (when either side has nulls, with a chi-squared test of the null shares, each at half the
  feature's level);
- categorical: the chi-squared test of the 2 x K table of counts
  (``scipy.stats.chi2_contingency``) over the reference's ``max_categories`` most frequent
  values, the rest as one ``other`` category and nulls as one more.

A feature drifts when its p-value is below ``alpha / (features + 1)`` (Bonferroni over the
features and the multivariate test, so a whole check has a family-wise false-alarm rate of at
most ``alpha``) and its PSI reaches ``psi_min`` (an effect floor: with many rows a test finds
shifts too small to matter).

Multivariate score: a domain classifier's held-out ROC AUC. A logistic regression (L2, fitted
here with SciPy's BFGS: both tables are already in this process, and a fit on a few thousand
rows takes milliseconds, less than Ray's overhead of the distributed GLM) learns to tell current
rows from reference rows on the standardized numerics and one-hot categoricals, two-fold: each
half's scores come from the model fitted on the other half. Unlike a mean of per-feature
statistics, it sees changes in how features move together, and its AUC has an exact null
distribution: the Mann-Whitney U test of the held-out scores gives its p-value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.optimize
import scipy.special
import scipy.stats

from rivergen.services.monitoring.schemas import (
    DriftReport,
    DriftThresholds,
    FeatureDrift,
    FeatureKind,
    PerformanceReport,
)

_FLOOR = 1e-4  # PSI: the share an empty bin counts as
_NULL = "\x00null"
_OTHER = "\x00other"


@dataclass(frozen=True)
class MonitoredFeature:
    name: str
    kind: FeatureKind


def drift_report(
    reference: pa.Table,
    current: pa.Table,
    features: Sequence[MonitoredFeature],
    thresholds: DriftThresholds | None = None,
    *,
    skipped: Sequence[str] = (),
    seed: int = 0,
) -> DriftReport:
    """Compare ``current`` with ``reference`` on ``features`` (columns of both tables)."""
    limits = thresholds or DriftThresholds()
    level = limits.alpha / (len(features) + 1)
    rows = [
        _feature_drift(reference.column(f.name), current.column(f.name), f, limits, level)
        for f in features
    ]
    auc, auc_p = domain_classifier_auc(reference, current, features, limits, seed=seed)
    multivariate = auc_p < level and auc >= limits.auc_min
    drifted = [r.name for r in rows if r.drifted]
    return DriftReport(
        features=rows,
        drifted_features=drifted,
        multivariate_score=auc,
        multivariate_p_value=auc_p,
        multivariate_drifted=multivariate,
        drifted=bool(drifted) or multivariate,
        test_level=level,
        reference_rows=reference.num_rows,
        current_rows=current.num_rows,
        skipped=list(skipped),
        thresholds=limits,
    )


def _feature_drift(
    reference: pa.ChunkedArray,
    current: pa.ChunkedArray,
    feature: MonitoredFeature,
    limits: DriftThresholds,
    level: float,
) -> FeatureDrift:
    if feature.kind == "numeric":
        ref, cur = _numbers(reference), _numbers(current)
        psi = numeric_psi(ref, cur, limits.bins)
        statistic, p_value = _ks(ref[~np.isnan(ref)], cur[~np.isnan(cur)])
        ref_nulls, cur_nulls = np.isnan(ref), np.isnan(cur)
        if ref_nulls.any() or cur_nulls.any():
            # The share of nulls can drift too: its own test, both halves of the feature's level.
            nulls = np.array([ref_nulls.sum(), cur_nulls.sum()], dtype=np.float64)
            values = np.array([len(ref), len(cur)], dtype=np.float64) - nulls
            _, null_p = _chi2(np.array([nulls[0], values[0]]), np.array([nulls[1], values[1]]))
            p_value = min(1.0, 2 * min(p_value, null_p))
    else:
        ref_labels, cur_labels = _labels(reference), _labels(current)
        categories = _categories(ref_labels, limits.max_categories)
        ref_counts = _counts(ref_labels, categories)
        cur_counts = _counts(cur_labels, categories)
        psi = psi_of_counts(ref_counts, cur_counts)
        statistic, p_value = _chi2(ref_counts, cur_counts)
    return FeatureDrift(
        name=feature.name,
        kind=feature.kind,
        psi=psi,
        statistic=statistic,
        p_value=p_value,
        drifted=bool(p_value < level and psi >= limits.psi_min),
        reference_nulls=_null_share(reference),
        current_nulls=_null_share(current),
    )


# Per-feature statistics ---------------------------------------------------------------------


def numeric_psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI over the reference's quantile bins (NaN: a bin of its own)."""
    ref, cur = reference[~np.isnan(reference)], current[~np.isnan(current)]
    if len(ref) == 0:
        edges = np.array([])
    else:
        inner = np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1])
        edges = np.unique(inner)
    ref_counts = np.append(
        np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1),
        np.isnan(reference).sum(),
    )
    cur_counts = np.append(
        np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1),
        np.isnan(current).sum(),
    )
    return psi_of_counts(ref_counts, cur_counts)


def psi_of_counts(reference: np.ndarray, current: np.ndarray) -> float:
    """sum((c - r) * ln(c / r)) over the bins' shares, empty bins floored at 1e-4."""
    if reference.sum() == 0 or current.sum() == 0:
        return 0.0
    r = np.maximum(reference / reference.sum(), _FLOOR)
    c = np.maximum(current / current.sum(), _FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def _ks(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    if len(reference) == 0 or len(current) == 0:
        return 0.0, 1.0
    result = scipy.stats.ks_2samp(reference, current)
    return float(result.statistic), float(result.pvalue)


def _chi2(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    table = np.vstack([reference, current])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    result = scipy.stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    values = pc.cast(column, pa.float64()) if column.type != pa.float64() else column
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)


def _labels(column: pa.ChunkedArray) -> np.ndarray:
    values = [_NULL if v is None else str(v) for v in column.to_pylist()]
    return np.asarray(values, dtype=object)


def _categories(reference: np.ndarray, keep: int) -> list[str]:
    values, counts = np.unique(reference[reference != _NULL], return_counts=True)
    order = np.argsort(-counts, kind="stable")[:keep]
    return [str(values[i]) for i in order]


def _counts(labels: np.ndarray, categories: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(categories)}
    other, null = len(categories), len(categories) + 1
    codes = np.fromiter(
        (null if v == _NULL else index.get(v, other) for v in labels),
        dtype=np.int64,
        count=len(labels),
    )
    return np.bincount(codes, minlength=len(categories) + 2).astype(np.float64)


def _null_share(column: pa.ChunkedArray) -> float:
    return float(column.null_count / len(column)) if len(column) else 0.0


# Multivariate: a domain classifier ----------------------------------------------------------


def domain_classifier_auc(
    reference: pa.Table,
    current: pa.Table,
    features: Sequence[MonitoredFeature],
    limits: DriftThresholds,
    *,
    seed: int = 0,
) -> tuple[float, float]:
    """The held-out ROC AUC of a logistic classifier telling current rows (1) from reference
    rows (0), two-fold, and its one-sided Mann-Whitney p-value; (0.5, 1.0) without features or
    rows."""
    rng = np.random.default_rng(seed)
    ref_rows = _sample(reference.num_rows, limits.classifier_rows, rng)
    cur_rows = _sample(current.num_rows, limits.classifier_rows, rng)
    if not features or len(ref_rows) < 4 or len(cur_rows) < 4:
        return 0.5, 1.0
    x_ref, x_cur = _design(reference.take(ref_rows), current.take(cur_rows), features, limits)
    x = np.vstack([x_ref, x_cur])
    y = np.concatenate([np.zeros(len(x_ref)), np.ones(len(x_cur))])
    # Two folds, each side split in halves: both folds keep the sides' proportions.
    fold = np.concatenate([rng.permutation(len(x_ref)) % 2, rng.permutation(len(x_cur)) % 2])
    scores = np.empty(len(y))
    for k in (0, 1):
        train, test = fold != k, fold == k
        w, b = _fit_logistic(x[train], y[train])
        scores[test] = x[test] @ w + b
    result = scipy.stats.mannwhitneyu(scores[y == 1], scores[y == 0], alternative="greater")
    auc = float(result.statistic) / (float((y == 1).sum()) * float((y == 0).sum()))
    return auc, float(result.pvalue)


def _sample(n: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= limit else np.sort(rng.choice(n, size=limit, replace=False))


def _design(
    reference: pa.Table,
    current: pa.Table,
    features: Sequence[MonitoredFeature],
    limits: DriftThresholds,
) -> tuple[np.ndarray, np.ndarray]:
    """Numerics standardized by the reference (nulls at its mean); categoricals one-hot over
    the reference's categories (plus other and null)."""
    ref_parts: list[np.ndarray] = []
    cur_parts: list[np.ndarray] = []
    for feature in features:
        if feature.kind == "numeric":
            ref, cur = (
                _numbers(reference.column(feature.name)),
                _numbers(current.column(feature.name)),
            )
            mean = float(np.nanmean(ref)) if (~np.isnan(ref)).any() else 0.0
            std = float(np.nanstd(ref)) if (~np.isnan(ref)).any() else 1.0
            std = std if std > 0 else 1.0
            ref_parts.append(np.nan_to_num((ref - mean) / std)[:, None])
            cur_parts.append(np.nan_to_num((cur - mean) / std)[:, None])
        else:
            ref_l, cur_l = (
                _labels(reference.column(feature.name)),
                _labels(current.column(feature.name)),
            )
            categories = _categories(ref_l, limits.max_categories)
            ref_parts.append(_one_hot(ref_l, categories))
            cur_parts.append(_one_hot(cur_l, categories))
    return np.hstack(ref_parts), np.hstack(cur_parts)


def _one_hot(labels: np.ndarray, categories: list[str]) -> np.ndarray:
    known = [*categories, _NULL]
    out = np.zeros((len(labels), len(known) + 1))
    index = {c: i for i, c in enumerate(known)}
    for row, value in enumerate(labels):
        out[row, index.get(value, len(known))] = 1.0
    return out


def _fit_logistic(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> tuple[np.ndarray, float]:
    """L2 logistic regression: C * sum of log-losses + ||w||^2 / 2 (intercept unpenalized),
    minimized divided by ``C * n`` (the same minimizer; the gradient tolerance then means the
    same at any size). BFGS: with tens of features it beats L-BFGS-B's overhead here."""
    n, d = x.shape
    ridge = 1.0 / (c * n)

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:d], params[d]
        z = x @ w + b
        loss = float(np.mean(np.logaddexp(0.0, z) - y * z))
        dz = (scipy.special.expit(z) - y) / n
        grad = np.append(x.T @ dz + ridge * w, dz.sum())
        return loss + 0.5 * ridge * float(w @ w), grad

    found = scipy.optimize.minimize(
        objective, np.zeros(d + 1), jac=True, method="BFGS", options={"maxiter": 200}
    )
    return found.x[:d], float(found.x[d])


# Performance ---------------------------------------------------------------------------------


def classification_metrics(actual: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """accuracy (threshold 0.5), log_loss, and roc_auc (not with one class only); ``actual``
    in {0, 1}, ``score`` = P(1)."""
    y = np.asarray(actual, dtype=np.float64)
    p = np.clip(np.asarray(score, dtype=np.float64), 1e-15, 1 - 1e-15)
    positives, negatives = y == 1, y == 0
    metrics = {
        "accuracy": float(np.mean((p >= 0.5) == positives)),
        "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
    }
    if positives.any() and negatives.any():
        ranks = scipy.stats.rankdata(p)
        n1, n0 = float(positives.sum()), float(negatives.sum())
        metrics["roc_auc"] = (float(ranks[positives].sum()) - n1 * (n1 + 1) / 2) / (n1 * n0)
    return metrics


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    y = np.asarray(actual, dtype=np.float64)
    f = np.asarray(predicted, dtype=np.float64)
    residual = y - f
    total = float(np.sum((y - y.mean()) ** 2))
    metrics = {
        "rmse": float(np.sqrt(np.mean(residual**2))),
        "mae": float(np.mean(np.abs(residual))),
    }
    if total > 0:  # r2 is undefined for a constant target
        metrics["r2"] = 1.0 - float(np.sum(residual**2)) / total
    return metrics


def performance_report(
    task: Any,
    metrics: dict[str, float],
    training: dict[str, Any],
    rows: int,
    thresholds: DriftThresholds | None = None,
) -> PerformanceReport:
    """The current metrics next to the training ones; degraded when accuracy or ROC AUC fall
    by ``metric_drop`` or RMSE rises by ``rmse_rise`` (relative)."""
    limits = thresholds or DriftThresholds()
    known = {k: float(v) for k, v in training.items() if k in metrics and _is_number(v)}
    changes = {k: metrics[k] - known[k] for k in known}
    degraded = [k for k in ("accuracy", "roc_auc") if changes.get(k, 0.0) <= -limits.metric_drop]
    if (
        "rmse" in changes
        and known["rmse"] > 0
        and changes["rmse"] / known["rmse"] >= limits.rmse_rise
    ):
        degraded.append("rmse")
    return PerformanceReport(
        task=task,
        rows=rows,
        metrics=metrics,
        training_metrics=known,
        changes=changes,
        degraded=bool(degraded),
        degraded_metrics=degraded,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)
