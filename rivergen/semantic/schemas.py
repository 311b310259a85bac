"""A workspace's semantic layer: what its datasets and columns are called, what they mean,
the measures computed from them, how they join, and questions verified with their SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rivergen.engine.sandbox import MAX_SQL_CHARS

ColumnRole = Literal["dimension", "time_dimension", "measure_source", "boolean", "identifier"]
Aggregation = Literal["sum", "avg", "min", "max", "count", "count_distinct", "none"]
LayerStatus = Literal["draft", "confirmed"]
LayerSource = Literal["draft", "edit"]

_Synonyms: Any = Field(
    default_factory=list, max_length=50, description="Other names people use for it."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SemanticColumn(_Strict):
    name: str = Field(min_length=1, max_length=200, description="The column as the dataset has it.")
    business_name: str = Field("", max_length=200, description="What people call it.")
    description: str = Field("", max_length=2000)
    synonyms: list[str] = _Synonyms
    role: ColumnRole = Field(
        "dimension",
        description="dimension (grouped or filtered by), time_dimension (a date or time), "
        "measure_source (a number measures add up), boolean (yes/no), identifier (a key).",
    )
    true_values: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="A boolean column's stored values that mean true (e.g. `1`, `yes`).",
    )
    false_values: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="A boolean column's stored values that mean false (e.g. `0`, `no`).",
    )
    date_format: str | None = Field(
        None,
        max_length=40,
        pattern=r"^[%A-Za-z0-9 /.:,\-]+$",
        description="A time dimension held as text: its strptime format (`%Y/%m/%d`).",
    )


class SemanticDataset(_Strict):
    name: str = Field(min_length=1, max_length=200, description="The dataset's name.")
    business_name: str = Field("", max_length=200)
    description: str = Field("", max_length=2000)
    synonyms: list[str] = _Synonyms
    columns: list[SemanticColumn] = Field(default_factory=list, max_length=2000)


class Measure(_Strict):
    """``name = aggregation(expression)`` over one dataset's rows."""

    name: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="A word (letters, digits, `_`): the answer column's name.",
    )
    dataset: str = Field(min_length=1, max_length=200)
    expression: str = Field(
        min_length=1,
        max_length=2000,
        description="SQL over the dataset's columns, one value per row: "
        "`unitPrice * quantity * (1 - discount)`; with aggregation `none`, an aggregate "
        "already (`SUM(freight) / COUNT(*)`).",
    )
    aggregation: Aggregation = "sum"
    synonyms: list[str] = _Synonyms
    description: str = Field("", max_length=2000)


class Relationship(_Strict):
    """A join key: ``from_dataset.from_column`` refers to ``to_dataset.to_column``."""

    from_dataset: str = Field(min_length=1, max_length=200)
    from_column: str = Field(min_length=1, max_length=200)
    to_dataset: str = Field(min_length=1, max_length=200)
    to_column: str = Field(min_length=1, max_length=200)


class VerifiedQuery(_Strict):
    question: str = Field(min_length=1, max_length=2000)
    sql: str = Field(
        min_length=1,
        max_length=MAX_SQL_CHARS,
        description="One read-only query over the workspace's datasets (DuckDB's dialect).",
    )


class SemanticLayer(_Strict):
    """The document: what is kept of each version, and what a PUT sends whole."""

    datasets: list[SemanticDataset] = Field(default_factory=list, max_length=500)
    measures: list[Measure] = Field(default_factory=list, max_length=1000)
    relationships: list[Relationship] = Field(default_factory=list, max_length=2000)
    verified_queries: list[VerifiedQuery] = Field(default_factory=list, max_length=500)


class SemanticLayerUpdate(SemanticLayer):
    based_on: int | None = Field(
        None,
        ge=1,
        description="The version this document edits: 409 `semantic_layer_conflict` if "
        "another was saved since. Unset: no check.",
    )


class ConfirmRequest(_Strict):
    version: int | None = Field(
        None,
        ge=1,
        description="The version the person reviewed: 409 `semantic_layer_conflict` unless it "
        "is the current one. Unset: the current one.",
    )


class SemanticLayerVersion(BaseModel):
    """One saved version."""

    version: int
    status: LayerStatus = Field(
        description="`draft` until a person confirms it; providers use the newest confirmed."
    )
    source: LayerSource = Field(description="`draft`: built automatically; `edit`: a PUT.")
    layer: SemanticLayer
    created_by: str
    created_at: datetime
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None
    in_use: bool = Field(
        False, description="Whether this is the version the prompt providers use now."
    )


class SemanticLayerVersionPage(BaseModel):
    items: list[SemanticLayerVersion]
    next_cursor: str | None = None
