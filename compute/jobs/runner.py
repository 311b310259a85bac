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
from rivergen.errors import RiverGenError
from rivergen.jobs.kinds import JobKind
from rivergen.services.governance import Governed
from rivergen.settings import Settings

# The supervisor's handle, by this process's connection to Ray (its node and job: node ids are
# never reused, job ids are by another cluster) and the actor's name, once found: a lookup asks
# the GCS (a blocking round trip on every request otherwise). A handle stays valid across the
# actor's restarts, not across connections.
_handles: dict[tuple[str, str, str, str], Any] = {}


def _handle_key(options: dict[str, Any]) -> tuple[str, str, str, str]:
    context = ray.get_runtime_context()
    return (context.get_node_id(), context.get_job_id(), options["namespace"], options["name"])


def job_supervisor(settings: Settings) -> Any:
    """The supervisor actor's handle, created if it does not exist (safe when several callers
    race: Ray returns the one that won)."""
    require_ray()
    options = supervisor_options(settings)
    name = _handle_key(options)
    handle = _handles.get(name)
    if handle is None:
        try:
            handle = ray.get_actor(options["name"], namespace=options["namespace"])
        except ValueError:
            handle = JobSupervisorActor.options(**options).remote(settings)
        _handles[name] = handle
    return handle


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
            _handles.pop(_handle_key(supervisor_options(settings)), None)
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

    async def start(self, job_id: UUID) -> None:
        await _call_supervisor(self._settings, "run", str(job_id))

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
