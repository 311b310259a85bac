"""What the job API takes and gives."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from rivergen.datasets.schemas import ColumnInfo, Name


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


ACTIVE_STATES: tuple[str, ...] = (JobState.QUEUED.value, JobState.RUNNING.value)


class JobCreate(BaseModel):
    kind: str = Field(min_length=1, max_length=64, description="What to run, e.g. `query`.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="The kind's parameters (see the kind's documentation)."
    )
    name: Name | None = Field(
        None, description="Name of the job and of its result dataset (default: made up)."
    )


class JobError(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class JobResultRef(BaseModel):
    dataset_id: UUID
    version: int
    summary: dict[str, Any] = Field(
        default_factory=dict,
        description="What the kind reports beyond the rows (pagerank: iterations, converged).",
    )


class JobView(BaseModel):
    id: UUID
    kind: str
    name: str | None
    params: dict[str, Any]
    state: JobState
    progress: float = Field(description="Percent done, 0 to 100.")
    message: str
    attempts: int
    max_attempts: int
    error: JobError | None
    result: JobResultRef | None
    cancel_requested: bool
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    compute_seconds: float


class JobAccepted(JobView):
    job_id: UUID


class JobPage(BaseModel):
    items: list[JobView]
    next_cursor: str | None = None


class ResultPage(BaseModel):
    job_id: UUID
    dataset_id: UUID
    version: int
    columns: list[ColumnInfo]
    rows: list[dict[str, Any]]
    row_count: int = Field(description="Rows in the whole result.")
    next_cursor: str | None = None


class DatasetInput(BaseModel):
    """A dataset version a job reads, as the catalog knows it."""

    dataset: UUID
    version: int
    object_key: str
    columns: list[ColumnInfo]
    row_count: int
    size_bytes: int = Field(0, description="The stored (Parquet) object's size.")

    @property
    def schema_types(self) -> dict[str, str]:
        return {c.name: c.type for c in self.columns}


def job_view(row: Any) -> JobView:
    """A job's row (``SELECT * FROM jobs``) as the API shows it."""
    error = row["error"]
    return JobView(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        params=json.loads(row["params"]),
        state=row["state"],
        progress=row["progress"],
        message=row["message"],
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        error=JobError.model_validate_json(error) if error else None,
        result=(
            JobResultRef(
                dataset_id=row["result_dataset_id"],
                version=row["result_version"],
                summary=json.loads(row["result_summary"]),
            )
            if row["result_dataset_id"] is not None
            else None
        ),
        cancel_requested=row["cancel_requested"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        compute_seconds=row["compute_seconds"],
    )
