"""The catalog a prompt is understood against: the workspace's datasets as named tables, with
what the workspace's confirmed semantic layer (:mod:`rivergen.semantic`) says of them: business
names and synonyms, column roles, measures, join keys and verified queries."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field


class CatalogColumn(BaseModel):
    name: str
    type: str = Field(description="Arrow type, e.g. int64, string, date32[day], timestamp[ns].")
    values: list[str] = Field(
        default_factory=list,
        description="A hint for a string column: its distinct values (up to a few thousand), so "
        "a question's `in Germany` or `Chai` finds the column and the exact spelling. Empty: "
        "unknown.",
    )
    business_name: str = Field("", description="What people call it (the semantic layer).")
    synonyms: list[str] = Field(default_factory=list, description="Other names people use.")
    role: str | None = Field(
        None,
        description="dimension, time_dimension, measure_source, boolean or identifier "
        "(the semantic layer's; None: not said).",
    )
    true_values: list[str] = Field(
        default_factory=list, description="A boolean column's values that mean true."
    )
    false_values: list[str] = Field(
        default_factory=list, description="A boolean column's values that mean false."
    )
    date_format: str | None = Field(
        None, description="A date held as text: its strptime format (the semantic layer's)."
    )


class CatalogTable(BaseModel):
    """One dataset's current version. ``name`` is the dataset's name as people wrote it."""

    dataset_id: UUID
    version: int
    name: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    columns: list[CatalogColumn]
    row_count: int | None = None
    business_name: str = Field("", description="What people call it (the semantic layer).")
    synonyms: list[str] = Field(default_factory=list, description="Other names people use.")


class CatalogMeasure(BaseModel):
    """A measure of the semantic layer: an aggregate of an expression over one table's columns
    (``revenue = SUM(unitPrice * quantity * (1 - discount))``)."""

    name: str
    table: str
    expression: str = Field(description="SQL over the table's columns, one value per row.")
    aggregation: str = Field(
        "sum",
        description="sum, avg, min, max, count, count_distinct, or none (the expression is "
        "an aggregate already).",
    )
    synonyms: list[str] = Field(default_factory=list)
    description: str = ""


class CatalogExample(BaseModel):
    """A verified query: a question and the SQL that answers it."""

    question: str
    sql: str


class CatalogKey(BaseModel):
    """A declared join key: ``table.column`` refers to ``ref_table.ref_column``."""

    table: str
    column: str
    ref_table: str
    ref_column: str


class PromptCatalog(BaseModel):
    tables: list[CatalogTable] = Field(default_factory=list)
    keys: list[CatalogKey] = Field(
        default_factory=list,
        description="Declared keys (the semantic layer's relationships); the translator may "
        "also discover keys by name and type.",
    )
    measures: list[CatalogMeasure] = Field(default_factory=list)
    examples: list[CatalogExample] = Field(
        default_factory=list, description="Verified queries of the semantic layer."
    )
    semantic_version: int | None = Field(
        None, description="The semantic layer version applied (None: none is confirmed)."
    )

    def table(self, name: str) -> CatalogTable | None:
        wanted = name.casefold()
        return next((t for t in self.tables if t.name.casefold() == wanted), None)
