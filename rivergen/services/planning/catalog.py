"""The catalog a prompt is understood against: the workspace's datasets as named tables."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field


class CatalogColumn(BaseModel):
    name: str
    type: str = Field(description="Arrow type, e.g. int64, string, date32[day], timestamp[ns].")
    values: list[str] = Field(
        default_factory=list,
        description="A hint for a low-cardinality string column: its distinct values, so a "
        "question's `in Germany` finds the column and the exact spelling. Empty: unknown.",
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
        description="Declared keys; the translator may also discover keys by name and type.",
    )

    def table(self, name: str) -> CatalogTable | None:
        wanted = name.casefold()
        return next((t for t in self.tables if t.name.casefold() == wanted), None)
