"""What the dataset registry and the catalog take and give."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import pyarrow as pa
from pydantic import BaseModel, Field, StringConstraints, model_validator

from rivergen.datasets.formats import DataFormat, InvalidRow, ParseOptions
from rivergen.quality import DatasetProfile, Rule, RuleResult

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class ColumnInfo(BaseModel):
    name: str
    type: str = Field(description="Arrow type, e.g. int64, string, timestamp[ns].")
    nullable: bool = True


def columns_of(schema: pa.Schema) -> list[ColumnInfo]:
    return [ColumnInfo(name=f.name, type=str(f.type), nullable=f.nullable) for f in schema]


class StagedVersion(BaseModel):
    """What staging wrote: one Parquet object and what it holds."""

    object_key: str
    source_format: DataFormat | Literal["table"]
    row_count: int
    size_bytes: int
    columns: list[ColumnInfo]
    invalid_row_count: int = 0
    invalid_rows: list[InvalidRow] = Field(default_factory=list)
    # How a file was read where that was a choice (encoding, delimiter, decimal, sheet).
    read_as: dict[str, str] = Field(default_factory=dict)


class DatasetSource(BaseModel):
    """Where a dataset version comes from: one uploaded file or one data source."""

    file_id: UUID | None = None
    data_source_id: UUID | None = None
    options: ParseOptions = Field(default_factory=ParseOptions)

    @model_validator(mode="after")
    def _exactly_one(self) -> DatasetSource:
        if (self.file_id is None) == (self.data_source_id is None):
            raise ValueError("give exactly one of file_id and data_source_id")
        return self


class DatasetCreate(DatasetSource):
    name: Name
    description: str = Field("", max_length=5000)
    tags: list[Tag] = Field(default_factory=list, max_length=50)


class ColumnUpdate(BaseModel):
    description: str | None = Field(None, max_length=5000)
    tags: list[Tag] | None = Field(None, max_length=50)


class DatasetUpdate(BaseModel):
    description: str | None = Field(None, max_length=5000)
    tags: list[Tag] | None = Field(None, max_length=50)
    columns: dict[str, ColumnUpdate] = Field(
        default_factory=dict, description="Descriptions and tags of columns, by column name."
    )


class LineageNode(BaseModel):
    kind: Literal["file", "data_source", "dataset", "job"]
    id: UUID
    version: int | None = None
    relation: str


COUNT_HIDDEN = (
    "Null when your policies filter the dataset's rows (or deny it, or it derives from rows "
    "they hide): the count of the whole data is not yours, and yours is a query away."
)


class VersionView(BaseModel):
    version: int
    source_format: str
    row_count: int | None = Field(description=COUNT_HIDDEN)
    size_bytes: int
    columns: list[ColumnInfo]
    source: dict[str, Any]
    invalid_row_count: int
    invalid_rows: list[InvalidRow]
    created_by: str
    created_at: datetime


class ColumnView(ColumnInfo):
    description: str = ""
    tags: list[str] = Field(default_factory=list)


class DatasetSummary(BaseModel):
    id: UUID
    name: str
    description: str
    tags: list[str]
    current_version: int
    row_count: int | None = Field(description=COUNT_HIDDEN)
    created_at: datetime
    updated_at: datetime


class DatasetView(DatasetSummary):
    columns: list[ColumnView] = Field(description="Columns of the current version.")
    versions: list[VersionView] = Field(description="Newest first.")
    upstream: list[LineageNode] = Field(description="What the versions were made from.")
    downstream: list[LineageNode] = Field(description="What was made from this dataset.")


class DatasetPage(BaseModel):
    items: list[DatasetSummary]
    next_cursor: str | None = None


class Preview(BaseModel):
    version: int
    columns: list[ColumnInfo]
    rows: list[dict[str, Any]]
    row_count: int = Field(description="Rows in the version (the preview shows the first ones).")


class DatasetDownload(BaseModel):
    """Where a script reads a version's Parquet object."""

    dataset_id: UUID
    version: int
    url: str = Field(
        description="GET the Parquet object here: a presigned URL (no credentials) on S3, the "
        "platform's content route (send the same credentials as here) for the embedded store."
    )
    credentials_required: bool = Field(
        description="True when the URL is the platform's and wants the caller's credentials."
    )
    expires_at: datetime | None = Field(
        description="When a presigned URL stops working; null for the platform's route."
    )
    row_count: int
    size_bytes: int


class SearchHit(BaseModel):
    id: UUID
    name: str
    description: str
    tags: list[str]
    score: float
    matched_columns: list[str]


class SearchResults(BaseModel):
    query: str
    items: list[SearchHit]


class ProfileView(BaseModel):
    dataset_id: UUID
    version: int
    profile: DatasetProfile


class QualityCheck(BaseModel):
    rules: list[Rule] = Field(min_length=1, max_length=100)
    version: int | None = Field(None, ge=1, description="Default: the current version.")
    sample_size: int = Field(5, ge=0, le=100, description="Failing rows shown per rule.")


class QualityReport(BaseModel):
    dataset_id: UUID
    version: int
    passed: bool = Field(description="Every rule passed.")
    results: list[RuleResult]
