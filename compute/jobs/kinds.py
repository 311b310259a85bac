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

from compute.engine import Query, run_query_job
from compute.staging import QueryInput
from rivergen.engine.lineage import QueryLineage
from rivergen.engine.query import SqlQuery, admit_job_sql, job_lineage
from rivergen.engine.spec import Join, QuerySpec, check_query
from rivergen.jobs.kinds import Catalog, JobContext, JobKind


class QueryKind(JobKind[Query]):
    """A query over dataset versions, run by the engine (:mod:`rivergen.engine`): either SQL
    (``{"sql": "SELECT ..."}``, datasets named as in the workspace) or the typed
    :class:`rivergen.engine.spec.QuerySpec` (filters, projections, group-by aggregates, order,
    limit and joins), compiled to SQL."""

    name = "query"
    params_model = QuerySpec

    def parse(self, params: dict[str, Any]) -> Query:
        if "sql" in params:
            return SqlQuery.model_validate(params)
        return QuerySpec.model_validate(params)

    async def validate(self, params: Query, catalog: Catalog) -> Query:
        if isinstance(params, SqlQuery):
            return await admit_job_sql(params, catalog)
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

    async def lineage(self, params: Query, catalog: Catalog) -> QueryLineage:
        return await job_lineage(params, catalog)

    def inputs(self, params: Query) -> list[tuple[UUID, int]]:
        if isinstance(params, SqlQuery):
            return list(dict.fromkeys((p.dataset, p.version) for p in params.inputs.values()))
        assert params.version is not None, "validate pins the version"
        found = [(params.dataset, params.version)]
        for join in params.all_joins:
            assert join.version is not None
            found.append((join.dataset, join.version))
        return list(dict.fromkeys(found))

    async def run(self, ctx: JobContext[Query]) -> Any:
        query = ctx.params
        inputs: list[QueryInput] = []
        if isinstance(query, SqlQuery):
            for i, (name, pin) in enumerate(query.inputs.items()):
                key, governed = ctx.source(pin.dataset, pin.version)
                inputs.append(
                    QueryInput(
                        relation=f"input_{i}",
                        name=name,
                        dataset=pin.dataset,
                        key=key,
                        columns=pin.columns,
                        governed=governed,
                    )
                )
        else:
            for i, (dataset, version) in enumerate(self.inputs(query)):
                key, governed = ctx.source(dataset, version)
                inputs.append(
                    QueryInput(relation=f"input_{i}", dataset=dataset, key=key, governed=governed)
                )
        stored = sum(ctx.size(dataset, version) for dataset, version in self.inputs(query))
        return await run_query_job(ctx, inputs, stored)


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
