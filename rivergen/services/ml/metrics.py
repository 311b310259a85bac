"""Held-out metrics of a model, as scikit-learn defines them (``sklearn.metrics``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.stats

_EPS = 1e-15


def roc_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """The area under the ROC curve (ties count a half); None with a single class."""
    y = np.asarray(y, dtype=bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return None
    ranks = scipy.stats.rankdata(score)
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def classification_metrics(y: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    """``y`` 0/1, ``score`` P(1): accuracy (at 0.5), roc_auc, log_loss and the confusion
    matrix ``[[tn, fp], [fn, tp]]`` (rows: true label 0, 1)."""
    y = np.asarray(y, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    predicted = score >= 0.5
    truth = y == 1.0
    p = np.clip(score, _EPS, 1 - _EPS)
    return {
        "accuracy": float((predicted == truth).mean()) if len(y) else None,
        "roc_auc": roc_auc(truth, score),
        "log_loss": float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()) if len(y) else None,
        "confusion_matrix": [
            [int((~truth & ~predicted).sum()), int((~truth & predicted).sum())],
            [int((truth & ~predicted).sum()), int((truth & predicted).sum())],
        ],
        "rows": len(y),
    }


def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """rmse, mae and r2 (1 - residual / total sum of squares)."""
    y = np.asarray(y, dtype=np.float64)
    residual = y - np.asarray(predicted, dtype=np.float64)
    total = float(((y - y.mean()) ** 2).sum()) if len(y) else 0.0
    return {
        "rmse": float(np.sqrt((residual**2).mean())) if len(y) else None,
        "mae": float(np.abs(residual).mean()) if len(y) else None,
        "r2": 1.0 - float((residual**2).sum()) / total if total > 0 else None,
        "rows": len(y),
    }


def better(task: str, candidate: dict[str, Any], best: dict[str, Any] | None) -> bool:
    """Whether ``candidate``'s metrics beat ``best``'s: a higher roc_auc (then a lower
    log_loss) for classification, a lower rmse for regression."""
    if best is None:
        return True
    if task == "classification":
        key = (candidate.get("roc_auc") or 0.0, -(candidate.get("log_loss") or np.inf))
        return key > (best.get("roc_auc") or 0.0, -(best.get("log_loss") or np.inf))
    return float(candidate.get("rmse") or np.inf) < float(best.get("rmse") or np.inf)
