"""What Decision Intelligence's callers send and get back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from rivergen.services.decisions import AppliedRule, DecisionExplanation

ScoredBy = Literal["model", "fallback_model", "baseline"]


class RowKey(BaseModel):
    """The first row whose ``column`` equals ``value``."""

    column: str = Field(min_length=1, max_length=200)
    value: Any


class AnalyzeRequest(BaseModel):
    """Decide on one case: its features, or a row of a dataset."""

    model_id: UUID
    version: int | str | None = Field(None, description="A number or alias; default champion.")
    features: dict[str, Any] | None = Field(None, description="The case's features.")
    dataset_id: UUID | None = Field(None, description="Or: a row of this dataset.")
    dataset_version: int | None = Field(None, ge=1, description="Default: the current.")
    row_index: int | None = Field(None, ge=0, description="The row's position (from 0).")
    row_key: RowKey | None = Field(None, description="Or: the first row with this value.")
    guideline_id: UUID | None = Field(
        None, description="The guideline set; default the workspace's newest (none: defaults)."
    )
    fallback_model_id: UUID | None = Field(
        None, description="Scores when the named model fails; then the constant baseline."
    )

    @model_validator(mode="after")
    def _one_case(self) -> AnalyzeRequest:
        if (self.features is None) == (self.dataset_id is None):
            raise ValueError("give either `features` or `dataset_id` with a row")
        if self.dataset_id is not None and (self.row_index is None) == (self.row_key is None):
            raise ValueError("with `dataset_id`, give one of `row_index` or `row_key`")
        return self


class DecisionView(BaseModel):
    id: UUID
    workspace_id: UUID
    model_id: UUID = Field(description="The model that scored it (the fallback's, if it did).")
    model_version: int | None = None
    scored_by: ScoredBy
    guideline_id: UUID | None = None
    dataset_id: UUID | None = None
    row_index: int | None = None
    features: dict[str, Any] = Field(description="Empty when withheld (`data_withheld`).")
    score: float | None = Field(description="Null only when withheld (`data_withheld`).")
    adjusted_score: float | None
    outcome: str | None
    rules_applied: list[AppliedRule]
    limits_hit: list[AppliedRule]
    explanation: DecisionExplanation | None
    created_by: str
    created_at: datetime
    data_withheld: bool = Field(
        False,
        description="True when your policies hide more of the datasets it was computed from "
        "(the row's, the scoring model's training data) than its creator's did: its features, "
        "scores, outcome and explanation are left out; analyze the case yourself.",
    )


class DecisionPage(BaseModel):
    items: list[DecisionView]
    next_cursor: str | None = None


class SimulateRequest(BaseModel):
    """Decide on every row of a dataset (as the caller may see it) without keeping decisions."""

    model_id: UUID
    version: int | str | None = None
    dataset_id: UUID
    guideline_id: UUID | None = Field(None, description="Default: the workspace's newest.")


class SimulationResult(BaseModel):
    rows: int
    outcome_counts: dict[str, int]
    limit_hits: dict[str, int] = Field(description="Rows each hard limit overruled or confirmed.")
    rule_hits: dict[str, int] = Field(description="Rows each guideline rule applied to.")
    mean_score: float | None
    scored_by: ScoredBy
    model_version: int | None = None
    fallback: str | None = None
    row_outcomes: list[str] | None = Field(
        None, description="Each row's outcome, in order (when the dataset is small enough)."
    )


class SimulationView(BaseModel):
    id: UUID
    workspace_id: UUID
    model_id: UUID
    model_version: str | None = None
    dataset_id: UUID
    guideline_id: UUID | None = None
    status: Literal["queued", "running", "completed", "failed"]
    result: SimulationResult | None = None
    error: dict[str, Any] | None = None
    created_by: str
    created_at: datetime
    finished_at: datetime | None = None
    data_withheld: bool = Field(
        False,
        description="True when your policies hide more of the dataset or the model's training "
        "data than its requester's did: the result is left out; simulate it yourself.",
    )
