"""What the job service needs from compute (the job supervisor on Ray; see compute/jobs/)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from uuid import UUID

from rivergen.datasets.schemas import ColumnInfo
from rivergen.jobs.kinds import JobKind
from rivergen.jobs.schemas import DatasetInput
from rivergen.services.governance.schemas import Governed


class JobRunner(Protocol):
    @property
    def kinds(self) -> Mapping[str, JobKind[Any]]:
        """The kinds this platform accepts, by name."""

    async def ensure_supervisor(self) -> bool:
        """Make sure the supervisor runs (it resumes queued and running jobs when it starts);
        False when there is no compute cluster to run it on."""

    async def start(self, job_id: UUID, inputs: Sequence[DatasetInput] = ()) -> None:
        """Hand a queued job to the supervisor (which owns it from then on), with the pinned
        versions of its inputs as the submitter just found them (the supervisor reads the
        ones it is not given)."""

    async def cancel(self, job_id: UUID) -> None:
        """Tell the supervisor to stop a job now (the flag in Postgres is set already)."""

    async def rows(
        self, key: str, offset: int, limit: int, governed: Governed | None = None
    ) -> tuple[list[ColumnInfo], list[dict[str, Any]], int]:
        """Rows ``offset``.. of a Parquet object as JSON values, its columns and row count
        (the rows as ``governed`` shows them, if given: masked, denied columns dropped)."""
