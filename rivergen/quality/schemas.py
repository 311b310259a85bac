"""Profiles and quality rules: the JSON shapes stored and shown to users.

Every value inside these models is JSON-safe (see `rivergen.quality.values` for how Arrow values
map to JSON), so ``model_dump(mode="json")`` can be stored as-is.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rivergen.quality.values import JsonScalar, JsonValue

QUANTILES: dict[str, float] = {
    "p0": 0.0,
    "p5": 0.05,
    "p25": 0.25,
    "p50": 0.5,
    "p75": 0.75,
    "p95": 0.95,
    "p100": 1.0,
}


class ValueCount(BaseModel):
    value: JsonScalar = Field(description="A value of the column (JSON-safe).")
    count: int = Field(ge=1, description="Rows holding exactly this value.")


class Histogram(BaseModel):
    """Equal-width bins: ``counts[i]`` values lie in ``[edges[i], edges[i+1])``, the last bin
    closed on both sides (numpy's rule)."""

    kind: Literal["value", "length"] = Field(
        description="`value`: bins over the values; `length`: over string (or byte) lengths."
    )
    edges: list[float] | list[str] = Field(
        description="len(counts)+1 bin edges; ISO texts for temporal columns (rounded to the "
        "column's unit)."
    )
    counts: list[int]


class ColumnProfile(BaseModel):
    """What one column holds. Counts are exact; see `rivergen.quality.profile` for each rule."""

    name: str
    type: str = Field(description="The Arrow type, e.g. `int64`, `timestamp[us, tz=UTC]`.")
    count: int = Field(description="Rows, nulls included.")
    null_count: int
    nan_count: int = Field(0, description="Float NaNs (not nulls; excluded from the summary).")
    inf_count: int = Field(0, description="Float +/-infinities (excluded from the summary).")
    distinct_count: int | None = Field(
        description="Distinct non-null values (NaN is one value); None for nested types."
    )
    min: JsonScalar = None
    max: JsonScalar = None
    mean: float | None = Field(None, description="Numeric and boolean (share of true) columns.")
    std: float | None = Field(None, description="Population standard deviation (ddof=0).")
    quantiles: dict[str, JsonScalar] | None = Field(
        None, description="p0, p5, p25, p50, p75, p95, p100 for numeric and temporal columns."
    )
    top_values: list[ValueCount] = Field(
        default_factory=list,
        description="Most frequent non-null values, by count descending then value ascending.",
    )
    values: list[str] | None = Field(
        None,
        description="Every distinct non-null value of a text column (sorted), kept when there "
        "are at most `MAX_KEPT_VALUES` of them and they hold at most `MAX_KEPT_CHARS` "
        "characters in all; None otherwise. What lets a question name one (`Chai`, `LAX`).",
    )
    histogram: Histogram | None = None
    true_count: int | None = Field(None, description="Booleans only.")
    false_count: int | None = Field(None, description="Booleans only.")


class DatasetProfile(BaseModel):
    row_count: int
    column_count: int
    columns: list[ColumnProfile] = Field(description="In the table's column order.")
    profiled_at: dt.datetime
    duration_s: float = Field(description="Wall time of the whole profile.")
    tasks: int = Field(description="Ray tasks that profiled the columns (0: profiled in-process).")
    task_pids: list[int] = Field(
        default_factory=list, description="Distinct worker process ids that ran those tasks."
    )


# --- Quality rules -------------------------------------------------------------------------


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str = Field(min_length=1, description="The column the rule checks.")
    name: str | None = Field(None, description="An optional label shown with the result.")


class NotNullRule(_Rule):
    """Every row has a value (a float NaN is a value)."""

    kind: Literal["not_null"] = "not_null"


class UniqueRule(_Rule):
    """No non-null value occurs twice; every row holding a repeated value fails."""

    kind: Literal["unique"] = "unique"


class RangeRule(_Rule):
    """Non-null values lie within the bounds (numbers, or ISO texts for temporal columns, or
    strings compared bytewise). NaN lies in no range."""

    kind: Literal["range"] = "range"
    min: float | int | str | None = None
    max: float | int | str | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True

    @model_validator(mode="after")
    def _one_bound(self) -> RangeRule:
        if self.min is None and self.max is None:
            raise ValueError("a range rule needs `min`, `max` or both")
        return self


class RegexRule(_Rule):
    """Non-null values match the RE2 pattern (the whole value unless ``full_match`` is false).
    A non-string column is checked in its text form."""

    kind: Literal["regex"] = "regex"
    pattern: str = Field(min_length=1)
    full_match: bool = True

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            pc.match_substring_regex(pa.array([""], pa.string()), pattern=pattern)
        except pa.ArrowInvalid as exc:
            raise ValueError(f"pattern is not a valid RE2 regular expression: {exc}") from None
        return pattern


class AllowedValuesRule(_Rule):
    """Non-null values are among ``values``."""

    kind: Literal["allowed_values"] = "allowed_values"
    values: list[JsonScalar] = Field(min_length=1)


class FreshnessRule(_Rule):
    """The newest value of a date or timestamp column is at most ``max_age_s`` old at ``now``
    (naive timestamps are read as UTC; a date as its midnight UTC)."""

    kind: Literal["freshness"] = "freshness"
    max_age_s: float = Field(gt=0)


Rule = Annotated[
    NotNullRule | UniqueRule | RangeRule | RegexRule | AllowedValuesRule | FreshnessRule,
    Field(discriminator="kind"),
]


class FailingRow(BaseModel):
    row: int = Field(description="0-based row index in the table.")
    value: JsonValue = Field(description="The offending value.")
    record: dict[str, JsonValue] = Field(description="The whole row, column -> value.")


class RuleResult(BaseModel):
    rule: Rule
    passed: bool
    checked_count: int = Field(description="Rows the rule looked at (non-null unless not_null).")
    failing_count: int = Field(description="Rows that break the rule.")
    samples: list[FailingRow] = Field(
        default_factory=list, description="The first failing rows, by row index."
    )
    details: dict[str, JsonValue] = Field(
        default_factory=dict, description="Rule-specific facts, e.g. freshness's newest value."
    )
