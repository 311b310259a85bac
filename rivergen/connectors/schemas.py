"""Requests and responses of data sources."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from rivergen.connectors.config import ColumnInfo, SourceConfig


class DataSourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, description="Unique in the workspace.")
    config: SourceConfig = Field(description="The source, by `kind`: postgres, s3, http_csv.")


class DataSourceView(BaseModel):
    id: UUID
    name: str
    kind: Literal["postgres", "s3", "http_csv"]
    config: dict[str, Any] = Field(
        description="The config with its secrets redacted (a DSN's password masked, keys left out)."
    )
    created_by: str
    created_at: datetime
    columns: list[ColumnInfo] | None = Field(
        None, description="The columns found by the last discover-schema, if any."
    )
    discovered_at: datetime | None = None


class DataSourcePage(BaseModel):
    items: list[DataSourceView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class DiscoveredSchema(BaseModel):
    source_id: UUID
    columns: list[ColumnInfo]
    discovered_at: datetime
