"""Decision guidelines, hard limits and decisions: what callers send and get back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from rivergen.services.ml.schemas import FeatureContribution

Op = Literal["gt", "ge", "lt", "le", "eq", "ne", "in", "not_in", "is_null", "not_null"]
OP_SYMBOLS: dict[str, str] = {
    "gt": ">",
    "ge": ">=",
    "lt": "<",
    "le": "<=",
    "eq": "==",
    "ne": "!=",
    "in": "in",
    "not_in": "not in",
    "is_null": "is null",
    "not_null": "is not null",
}


class Condition(BaseModel):
    """A test on one feature, e.g. ``{"feature": "amount", "op": "gt", "value": 10000}``.

    A feature the request does not carry (or carries as null) fails every test except
    ``is_null``; values that cannot be compared (a text against a number) fail it too."""

    feature: str = Field(min_length=1, max_length=200)
    op: Op
    value: Any = Field(None, description="A scalar; a list for `in` / `not_in`; none for nulls.")

    @model_validator(mode="after")
    def _value_fits(self) -> Condition:
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"`{self.op}` takes a list of values")
        if self.op not in ("is_null", "not_null", "in", "not_in") and self.value is None:
            raise ValueError(f"`{self.op}` takes a value")
        return self

    def describe(self) -> str:
        """As people read it: ``amount > 10000``."""
        if self.op in ("is_null", "not_null"):
            return f"{self.feature} {OP_SYMBOLS[self.op]}"
        return f"{self.feature} {OP_SYMBOLS[self.op]} {self.value!r}"


class Threshold(BaseModel):
    outcome: str = Field(min_length=1, max_length=64)
    min_score: float = Field(description="The outcome applies from this score up.")


class GuidelineRule(BaseModel):
    """Refines the outcome when its condition holds: moves the score by ``adjust`` (before the
    thresholds), or sets ``outcome`` directly (unless a hard limit decides)."""

    name: str = Field(min_length=1, max_length=200)
    when: Condition
    adjust: float = Field(0.0, ge=-1, le=1, description="Added to the score; kept in [0, 1].")
    outcome: str | None = Field(None, max_length=64, description="Sets the outcome.")


class HardLimit(BaseModel):
    """A deterministic rule that always wins over the score."""

    name: str = Field(min_length=1, max_length=200)
    when: Condition
    outcome: str = Field("decline", min_length=1, max_length=64)


DEFAULT_THRESHOLDS: tuple[Threshold, ...] = (
    Threshold(outcome="approve", min_score=0.7),
    Threshold(outcome="review", min_score=0.4),
)


class Guidelines(BaseModel):
    """How a score becomes an outcome: the first threshold (highest ``min_score`` first) the
    score reaches; below every threshold, ``fallback_outcome``."""

    thresholds: list[Threshold] = Field(
        default_factory=lambda: [t.model_copy() for t in DEFAULT_THRESHOLDS],
        max_length=20,
        description="Default: approve from 0.7, review from 0.4, else decline.",
    )
    fallback_outcome: str = Field("decline", min_length=1, max_length=64)
    rules: list[GuidelineRule] = Field(default_factory=list, max_length=100)


class GuidelineCreate(Guidelines):
    """A workspace's guideline set: thresholds, refining rules and hard limits."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    limits: list[HardLimit] = Field(default_factory=list, max_length=100)


class Guideline(GuidelineCreate):
    id: UUID
    workspace_id: UUID
    created_by: str
    created_at: datetime


class GuidelinePage(BaseModel):
    items: list[Guideline]
    next_cursor: str | None = None


class AppliedRule(BaseModel):
    name: str
    condition: str = Field(description="The condition as people read it.")
    effect: str = Field(description="What it did, e.g. `score -0.2` or `outcome review`.")


class Decision(BaseModel):
    """What :func:`~rivergen.services.decisions.decide` returns."""

    outcome: str
    score: float = Field(description="The model's score.")
    adjusted_score: float = Field(description="The score after the guideline rules.")
    rules_applied: list[AppliedRule] = Field(default_factory=list)
    limits_hit: list[AppliedRule] = Field(default_factory=list)
    explanation: str


class DecisionExplanation(BaseModel):
    summary: str
    top_contributions: list[FeatureContribution] = Field(default_factory=list)
    rules_applied: list[AppliedRule] = Field(default_factory=list)
    limits_hit: list[AppliedRule] = Field(default_factory=list)
    fallback: str | None = Field(None, description="Why the baseline scored it, if it did.")
