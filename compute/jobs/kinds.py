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

from compute.internal import Join, QuerySpec, check_query, run_query
from rivergen.jobs.kinds import Catalog, JobContext, JobKind

# A kind's task reserves half a core: two at once on a 2-core machine, beside Serve's replicas.
TASK_CPUS = 0.5


def _query(spec: QuerySpec, table: pa.Table, *rights: pa.Table) -> pa.Table:
    if spec.join is not None:
        return run_query(spec, table, rights[0], joined=rights[1:])
    return run_query(spec, table, joined=rights)


# Tasks of a job are not retried by Ray: the supervisor retries the job's attempt as a whole
# (bounded by max_attempts), so a crash is counted and shown.
_query_task = ray.remote(num_cpus=TASK_CPUS, max_retries=0)(_query)


class QueryKind(JobKind[QuerySpec]):
    """Filters, projections, group-by aggregates, order, limit and joins over dataset
    versions (see :mod:`compute.internal`)."""

    name = "query"
    params_model = QuerySpec

    async def validate(self, params: QuerySpec, catalog: Catalog) -> QuerySpec:
        left = await catalog.dataset(params.dataset, params.version)
        pinned: list[Join] = []
        schemas: list[dict[str, str]] = []
        for join in params.all_joins:
            found = await catalog.dataset(join.dataset, join.version)
            pinned.append(join.model_copy(update={"version": found.version}))
            schemas.append(found.schema_types)
        first = schemas[0] if params.join is not None else None
        rest = schemas[1:] if params.join is not None else schemas
        check_query(params, left.schema_types, first, joined=rest)
        update: dict[str, Any] = {"version": left.version}
        if params.join is not None:
            update |= {"join": pinned[0], "joins": pinned[1:]}
        else:
            update |= {"joins": pinned}
        return params.model_copy(update=update)

    def inputs(self, params: QuerySpec) -> list[tuple[UUID, int]]:
        assert params.version is not None, "validate pins the version"
        found = [(params.dataset, params.version)]
        for join in params.all_joins:
            assert join.version is not None
            found.append((join.dataset, join.version))
        return found

    async def run(self, ctx: JobContext[QuerySpec]) -> Any:
        spec = ctx.params
        assert spec.version is not None
        left = ctx.load(spec.dataset, spec.version)
        rights = []
        for join in spec.all_joins:
            assert join.version is not None
            rights.append(ctx.load(join.dataset, join.version))
        ctx.progress(10, "querying")
        return ctx.track(_query_task.remote(spec, left, *rights))


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
    from compute.jobs.train_kind import TrainKind

    kinds: list[JobKind[Any]] = [QueryKind(), PageRankKind(), SimilarityKind(), SleepKind()]
    kinds.append(TrainKind())
    return {kind.name: kind for kind in kinds}
