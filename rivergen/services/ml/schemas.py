"""What the Machine Learning service, Model Studio, Model Monitoring and Decision Intelligence
share: a model version as the registry describes it, and a prediction with its explanation."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from rivergen.accounts.principal import RequestContext

Task = Literal["classification", "regression"]
Encoding = Literal["numeric", "one_hot", "hashing", "tfidf"]


class FeatureSpec(BaseModel):
    """How one column becomes sparse features."""

    column: str
    encoding: Encoding = Field(
        description="numeric: scaled (mean 0, unit variance, nulls 0); one_hot: a column per "
        "value seen in training (unseen values: none); hashing: `n_features` buckets; tfidf: "
        "words of a text column."
    )
    n_features: int | None = Field(None, ge=1, description="Buckets of `hashing`.")


class ModelVersionView(BaseModel):
    model_id: UUID
    name: str
    version: int
    task: Task
    target: str
    features: list[FeatureSpec]
    dataset_id: UUID = Field(description="The training dataset.")
    dataset_version: int
    metrics: dict[str, Any] = Field(
        default_factory=dict,
        description="Held-out metrics: accuracy, roc_auc, log_loss, confusion_matrix "
        "(classification); rmse, mae, r2 (regression).",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="penalty, C, ...")
    aliases: list[str] = Field(default_factory=list, description="e.g. `champion`.")
    deployed: bool = False
    created_at: datetime
    data_withheld: bool = Field(
        False,
        description="True when your policies hide more of the training dataset (rows, or a "
        "feature or target column) than its trainer's did: the version's metrics are left out "
        "and its predictions are not yours (403 `derived_from_governed_data`).",
    )


class FeatureContribution(BaseModel):
    feature: str = Field(description="`column` or `column=value` for a one-hot feature.")
    value: Any = None
    contribution: float = Field(description="Its share of the score: coefficient x value.")


class Prediction(BaseModel):
    score: float = Field(description="Classification: P(positive label); regression: the value.")
    label: Any = Field(None, description="Classification: the predicted label.")
    contributions: list[FeatureContribution] = Field(
        default_factory=list, description="Largest first (by absolute value), when asked."
    )
    model_id: UUID
    version: int


class ModelLookup(Protocol):
    async def version(
        self, context: RequestContext, model_id: UUID, version: int | str | None = None
    ) -> ModelVersionView:
        """A version by number or alias (default: the `champion`); 404 `model_not_found`."""
        ...


class Predictor(Protocol):
    async def predict(
        self,
        context: RequestContext,
        model_id: UUID,
        rows: list[dict[str, Any]],
        *,
        version: int | str | None = None,
        explain: bool = False,
    ) -> list[Prediction]:
        """Score rows with a deployed version (default: the `champion`); 404
        `model_not_found`, 409 `model_not_deployed`, 422 for rows that do not fit."""
        ...


# The registry's API (Model Studio) ------------------------------------------------------------

Penalty = Literal["l2", "l1"]
CHAMPION = "champion"


class Candidate(BaseModel):
    """One model a training job fits; the best on the held-out rows becomes the champion."""

    penalty: Penalty = "l2"
    C: float = Field(1.0, gt=0, le=1e6, description="Inverse regularization strength.")
    features: list[FeatureSpec] | None = Field(
        None, description="Its own features (default: the job's)."
    )


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="A new or existing model.")
    dataset: UUID
    version: int | None = Field(None, ge=1, description="Default: the current version.")
    target: str = Field(min_length=1)
    task: Task
    features: list[FeatureSpec] | None = Field(
        None,
        max_length=500,
        description="Default: inferred from the columns (numbers numeric, text with few values "
        "one_hot, long text tfidf).",
    )
    test_fraction: float = Field(0.2, gt=0, le=0.5, description="Rows held out (seeded).")
    seed: int = Field(0, ge=0, description="Of the held-out split (stratified by label).")
    challengers: list[Candidate] | None = Field(
        None,
        max_length=5,
        description="Fitted beside the champion candidate (L2, C=1); default: one L1 at C=1.",
    )


class TrainAccepted(BaseModel):
    model_id: UUID
    job_id: UUID
    name: str


class ModelSummary(BaseModel):
    id: UUID
    name: str
    task: Task
    target: str
    created_by: str
    created_at: datetime
    latest_version: int | None = None
    champion: int | None = Field(None, description="The version the `champion` alias names.")


class ModelPage(BaseModel):
    items: list[ModelSummary]
    next_cursor: str | None = None


class ModelDetail(ModelSummary):
    versions: list[ModelVersionView] = Field(description="Newest first.")
    aliases: dict[str, int] = Field(default_factory=dict)


class DeployRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | str | None = Field(None, description="A number or an alias (default champion).")


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: list[dict[str, Any]] = Field(min_length=1, max_length=1000)
    version: int | str | None = Field(None, description="A number or an alias (default champion).")
    explain: bool = Field(False, description="Each score's largest feature contributions.")


class PredictResponse(BaseModel):
    predictions: list[Prediction]
