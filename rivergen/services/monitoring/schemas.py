"""What Model Monitoring reports: per-feature and multivariate drift between a model's training
data and a new dataset, the model's performance on it when it holds labels, and the kept
reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

FeatureKind = Literal["numeric", "categorical"]


class DriftThresholds(BaseModel):
    """When a check alarms. The defaults and why:

    - ``alpha`` 0.05 is the family-wise false-alarm rate of a whole check: every per-feature
      test and the multivariate test run at ``alpha / (features + 1)`` (Bonferroni), so an
      i.i.d. sample of the training data alarms at most 5% of the time whatever the number of
      features.
    - ``psi_min`` 0.1 is an effect floor (the common PSI convention: < 0.1 no real change,
      0.1-0.25 moderate, > 0.25 major). With many rows a test finds shifts too small to matter;
      for a normal feature PSI is about d^2 for a mean shift of d standard deviations, so 0.1
      is a shift of about a third of a standard deviation.
    - ``auc_min`` 0.6 is the same floor for the multivariate score: a domain classifier's AUC
      of Phi(d / sqrt(2)) = 0.6 is again a shift of about a third of a standard deviation.
    - Performance degrades when ROC AUC or accuracy fall by ``metric_drop`` (0.05, absolute)
      or RMSE rises by ``rmse_rise`` (10%, relative) from the training (held-out) metrics.
    """

    alpha: float = Field(0.05, gt=0, lt=1, description="Family-wise false-alarm rate.")
    psi_min: float = Field(0.1, ge=0, description="PSI a drifted feature reaches at least.")
    auc_min: float = Field(0.6, ge=0.5, le=1, description="Domain-classifier AUC floor.")
    bins: int = Field(10, ge=2, le=100, description="PSI bins (reference quantiles).")
    max_categories: int = Field(20, ge=1, le=1000, description="Categories kept; rest 'other'.")
    classifier_rows: int = Field(
        5000, ge=50, description="Rows per side (sampled) for the domain classifier."
    )
    metric_drop: float = Field(0.05, ge=0, description="Accuracy/ROC AUC fall that degrades.")
    rmse_rise: float = Field(0.1, ge=0, description="Relative RMSE rise that degrades.")


class FeatureDrift(BaseModel):
    name: str
    kind: FeatureKind
    psi: float = Field(description="Population stability index over the reference's bins.")
    statistic: float = Field(
        description="Kolmogorov-Smirnov D (numeric) or chi-squared (categorical)."
    )
    p_value: float
    drifted: bool = Field(
        description="p_value below the Bonferroni level and psi at least `psi_min`."
    )
    reference_nulls: float = Field(0.0, description="Share of nulls in the reference.")
    current_nulls: float = Field(0.0, description="Share of nulls in the current data.")


class DriftReport(BaseModel):
    features: list[FeatureDrift]
    drifted_features: list[str] = Field(description="Names of the drifted features.")
    multivariate_score: float = Field(
        description="Held-out ROC AUC of a logistic classifier telling current rows from "
        "reference rows (0.5: indistinguishable; 1: apart)."
    )
    multivariate_p_value: float = Field(description="Mann-Whitney p-value of that AUC.")
    multivariate_drifted: bool
    drifted: bool = Field(description="Any feature drifted, or the multivariate score did.")
    test_level: float = Field(description="The per-test level: alpha / (features + 1).")
    reference_rows: int
    current_rows: int
    skipped: list[str] = Field(
        default_factory=list, description="Features not monitored (text), by column."
    )
    thresholds: DriftThresholds


class PerformanceReport(BaseModel):
    """The model's metrics on the labelled current data next to its training metrics."""

    task: Literal["classification", "regression"]
    rows: int = Field(description="Labelled rows scored.")
    metrics: dict[str, float] = Field(
        description="accuracy, roc_auc, log_loss (classification); rmse, mae, r2 (regression)."
    )
    training_metrics: dict[str, float]
    changes: dict[str, float] = Field(description="current - training, per metric in both.")
    degraded: bool
    degraded_metrics: list[str]


class MonitoringCheck(BaseModel):
    """A check: the current data, compared with the model version's training data."""

    dataset_id: UUID
    version: int | None = Field(None, ge=1, description="The dataset's version (default: current).")
    model_version: int | str | None = Field(
        None, description="The model's version or alias (default: the `champion`)."
    )


class MonitoringReport(BaseModel):
    id: UUID
    model_id: UUID
    model_version: int
    dataset_id: UUID
    dataset_version: int
    reference_dataset_id: UUID
    reference_version: int
    drift: DriftReport | None = Field(
        description="Null only when the report's data is withheld from you (`data_withheld`)."
    )
    performance: PerformanceReport | None = Field(
        None, description="When the current data holds the target and the model is deployed."
    )
    performance_note: str | None = Field(None, description="Why there is no performance.")
    alerted: bool = Field(description="A threshold was crossed: an event went out.")
    created_by: str
    created_at: datetime
    data_withheld: bool = Field(
        False,
        description="True when your policies hide more of the report's datasets (rows, or a "
        "column it read) than its creator's did: its statistics are left out; run a check "
        "yourself.",
    )


class MonitoringPage(BaseModel):
    items: list[MonitoringReport]
    next_cursor: str | None = None
