"""The job kinds the platform runs, and the registry the runner and the supervisor share.

``query`` (Internal Compute) is public. ``sleep`` exists for the platform's own tests of
progress, retries and cancellation: it is accepted only with ``RIVERGEN_JOBS__TEST_KINDS`` on.
"""

from __future__ import annotations

import os
import time
from typing import Any
from uuid import UUID

import pyarrow as pa
import ray
from pydantic import BaseModel, Field

from compute.internal import QuerySpec, check_query, run_query
from rivergen.jobs.kinds import Catalog, JobContext, JobKind

# A kind's task reserves half a core: two at once on a 2-core machine, beside Serve's replicas.
TASK_CPUS = 0.5


def _query(spec: QuerySpec, table: pa.Table, right: pa.Table | None) -> pa.Table:
    return run_query(spec, table, right)


# Tasks of a job are not retried by Ray: the supervisor retries the job's attempt as a whole
# (bounded by max_attempts), so a crash is counted and shown.
_query_task = ray.remote(num_cpus=TASK_CPUS, max_retries=0)(_query)


class QueryKind(JobKind[QuerySpec]):
    """Filters, projections, group-by aggregates, order, limit and a join over dataset
    versions (see :mod:`compute.internal`)."""

    name = "query"
    params_model = QuerySpec

    async def validate(self, params: QuerySpec, catalog: Catalog) -> QuerySpec:
        left = await catalog.dataset(params.dataset, params.version)
        join, right = params.join, None
        if join is not None:
            found = await catalog.dataset(join.dataset, join.version)
            join, right = join.model_copy(update={"version": found.version}), found.schema_types
        check_query(params, left.schema_types, right)
        return params.model_copy(update={"version": left.version, "join": join})

    def inputs(self, params: QuerySpec) -> list[tuple[UUID, int]]:
        assert params.version is not None, "validate pins the version"
        found = [(params.dataset, params.version)]
        if params.join is not None:
            assert params.join.version is not None
            found.append((params.join.dataset, params.join.version))
        return found

    async def run(self, ctx: JobContext[QuerySpec]) -> Any:
        spec = ctx.params
        assert spec.version is not None
        left = ctx.load(spec.dataset, spec.version)
        right = None
        if spec.join is not None:
            assert spec.join.version is not None
            right = ctx.load(spec.join.dataset, spec.join.version)
        ctx.progress(10, "querying")
        return ctx.track(_query_task.remote(spec, left, right))


class SleepParams(BaseModel):
    seconds: float = Field(1.0, ge=0, le=600, description="Total time slept.")
    steps: int = Field(4, ge=1, le=1000, description="Tasks the time is split into.")
    crash_attempts: int = Field(
        0, ge=0, description="Attempts whose first task ends its worker process (a crash)."
    )
    pid_dir: str | None = Field(
        None, description="Directory each task writes its worker's pid to (file `pid`)."
    )


def _nap(seconds: float, pid_dir: str | None, crash: bool) -> int:
    pid = os.getpid()
    if pid_dir is not None:
        tmp = os.path.join(pid_dir, f".pid-{pid}")
        with open(tmp, "w") as handle:
            handle.write(str(pid))
        os.replace(tmp, os.path.join(pid_dir, "pid"))
    if crash:
        os._exit(1)
    time.sleep(seconds)
    return pid


_nap_task = ray.remote(num_cpus=0.1, max_retries=0)(_nap)


class SleepKind(JobKind[SleepParams]):
    """Sleeps in steps, one task each, reporting progress and stopping between steps when
    cancelled; its result is one row per step."""

    name = "sleep"
    params_model = SleepParams
    public = False

    async def validate(self, params: SleepParams, catalog: Catalog) -> SleepParams:
        return params

    async def run(self, ctx: JobContext[SleepParams]) -> Any:
        p = ctx.params
        pids = []
        for step in range(p.steps):
            if ctx.cancelled():
                break
            crash = step == 0 and ctx.attempt <= p.crash_attempts
            pids.append(await ctx.track(_nap_task.remote(p.seconds / p.steps, p.pid_dir, crash)))
            ctx.progress(100 * (step + 1) / p.steps, f"step {step + 1} of {p.steps}")
        return pa.table({"step": list(range(len(pids))), "pid": pids})


def platform_kinds() -> dict[str, JobKind[Any]]:
    """Every kind, by name (the service hides the non-public ones unless test kinds are on).
    Add a kind here."""
    from compute.jobs.kernel_kinds import PageRankKind, SimilarityKind

    kinds: list[JobKind[Any]] = [QueryKind(), PageRankKind(), SimilarityKind(), SleepKind()]
    return {kind.name: kind for kind in kinds}
