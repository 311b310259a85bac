"""The job service's port to the supervisor (:class:`rivergen.jobs.JobRunner`) on Ray."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import ray

from compute.jobs.kinds import platform_kinds
from compute.jobs.results import read_rows_task
from compute.jobs.supervisor import JobSupervisorActor, supervisor_options
from compute.tasks import forget_actor, named_actor, outcome, require_ray
from rivergen.datasets.schemas import ColumnInfo
from rivergen.errors import RiverGenError
from rivergen.jobs.kinds import JobKind
from rivergen.jobs.schemas import DatasetInput
from rivergen.services.governance import Governed
from rivergen.settings import Settings


def job_supervisor(settings: Settings) -> Any:
    """The supervisor actor's handle, created if it does not exist (safe when several callers
    race: Ray returns the one that won)."""
    require_ray()
    options = supervisor_options(settings)

    def find() -> Any:
        try:
            return ray.get_actor(options["name"], namespace=options["namespace"])
        except ValueError:
            return JobSupervisorActor.options(**options).remote(settings)

    return named_actor(options["namespace"], options["name"], find)


async def _call_supervisor(settings: Settings, method: str, *args: Any) -> Any:
    """A call to the supervisor (each method is idempotent); if it fails other than with our
    own error (its actor gone for good, not restarting), the actor is looked up (or created)
    again and called once more."""
    for last in (False, True):
        handle = job_supervisor(settings)
        try:
            return await outcome(getattr(handle, method).remote(*args))
        except RiverGenError:
            raise
        except Exception:
            options = supervisor_options(settings)
            forget_actor(options["namespace"], options["name"])
            if last:
                raise
    raise AssertionError("unreachable")


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
        await _call_supervisor(self._settings, "ready")
        return True

    async def start(self, job_id: UUID, inputs: Sequence[DatasetInput] = ()) -> None:
        await _call_supervisor(self._settings, "run", str(job_id), list(inputs))

    async def cancel(self, job_id: UUID) -> None:
        await _call_supervisor(self._settings, "cancel", str(job_id))

    async def rows(
        self, key: str, offset: int, limit: int, governed: Governed | None = None
    ) -> tuple[list[ColumnInfo], list[dict[str, Any]], int]:
        require_ray()
        page: tuple[list[ColumnInfo], list[dict[str, Any]], int] = await outcome(
            read_rows_task.remote(self._settings, key, offset, limit, governed)
        )
        return page
