"""The job service's port to the supervisor (:class:`rivergen.jobs.JobRunner`) on Ray."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import ray

from compute.jobs.kinds import platform_kinds
from compute.jobs.results import read_rows_task
from compute.jobs.supervisor import JobSupervisorActor, supervisor_options
from compute.tasks import outcome, require_ray
from rivergen.datasets.schemas import ColumnInfo
from rivergen.jobs.kinds import JobKind
from rivergen.services.governance import Governed
from rivergen.settings import Settings


def job_supervisor(settings: Settings) -> Any:
    """The supervisor actor's handle, created if it does not exist (safe when several callers
    race: Ray returns the one that won)."""
    require_ray()
    options = supervisor_options(settings)
    try:
        return ray.get_actor(options["name"], namespace=options["namespace"])
    except ValueError:
        return JobSupervisorActor.options(**options).remote(settings)


class RayJobRunner:
    def __init__(self, settings: Settings, kinds: Mapping[str, JobKind[Any]] | None = None):
        self._settings = settings
        self._kinds = dict(kinds) if kinds is not None else platform_kinds()

    @property
    def kinds(self) -> Mapping[str, JobKind[Any]]:
        return self._kinds

    async def ensure_supervisor(self) -> bool:
        if not ray.is_initialized():
            return False
        await outcome(job_supervisor(self._settings).ready.remote())
        return True

    async def start(self, job_id: UUID) -> None:
        await outcome(job_supervisor(self._settings).run.remote(str(job_id)))

    async def cancel(self, job_id: UUID) -> None:
        await outcome(job_supervisor(self._settings).cancel.remote(str(job_id)))

    async def rows(
        self, key: str, offset: int, limit: int, governed: Governed | None = None
    ) -> tuple[list[ColumnInfo], list[dict[str, Any]], int]:
        require_ray()
        page: tuple[list[ColumnInfo], list[dict[str, Any]], int] = await outcome(
            read_rows_task.remote(self._settings, key, offset, limit, governed)
        )
        return page
