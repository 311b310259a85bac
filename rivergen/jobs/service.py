"""Execution Support: compute jobs, as the gateway takes them.

A job is checked completely before it exists (its kind, its params against the kind's model,
the datasets and columns they name, the concurrent-jobs quota): a refused job leaves no row and
starts no task. An accepted job is one row in Postgres, handed to the job supervisor (a
detached Ray actor) that owns it from then on; every later state change is the supervisor's.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from rivergen.accounts.principal import RequestContext
from rivergen.billing import Quota, QuotaAsk, QuotaService
from rivergen.db import Database
from rivergen.engine.query import SqlQuery
from rivergen.engine.spec import QuerySpec
from rivergen.errors import Conflict, NotFound, RiverGenError, ValidationFailed
from rivergen.events import Event, Topic, add_to_outbox
from rivergen.idempotency import settle_pending
from rivergen.jobs import store
from rivergen.jobs.catalog import DatasetCatalog
from rivergen.jobs.ends import JobEndWatch
from rivergen.jobs.kinds import JobKind
from rivergen.jobs.ports import JobRunner
from rivergen.jobs.recorder import JOB_CANCELLED, of_data, run_facts
from rivergen.jobs.schemas import (
    JobAccepted,
    JobCreate,
    JobPage,
    JobState,
    JobView,
    ResultPage,
    job_view,
)
from rivergen.pagination import decode_cursor, encode_cursor
from rivergen.services.governance import (
    GovernanceService,
    Governed,
    changes_data,
    check_columns,
    query_columns,
)
from rivergen.settings import JobSettings

# How often a request waiting for a job's end reads it, when nothing wakes it sooner.
_POLL_S = 0.25


def job_not_found(job: UUID) -> NotFound:
    return NotFound(f"job {job} not found", code="job_not_found")


class JobService:
    def __init__(
        self,
        db: Database,
        runner: JobRunner,
        settings: JobSettings,
        governance: GovernanceService | None = None,
        ends: JobEndWatch | None = None,
    ) -> None:
        self._db = db
        # Wakes a request waiting for a job's end (``wait_s``); without Redis, waiting polls.
        self._ends = ends or JobEndWatch(None, recheck_s=_POLL_S)
        # A job reads its inputs as its submitter may see them; its result is shown as the
        # reader may see it.
        self._governance = governance or GovernanceService(db)
        self._runner = runner
        self._settings = settings
        self._quotas = QuotaService(db)

    def _kind(self, name: str) -> JobKind[Any]:
        kind = self._runner.kinds.get(name)
        if kind is None or not (kind.public or self._settings.test_kinds):
            known = sorted(k for k, v in self._runner.kinds.items() if v.public)
            raise ValidationFailed(
                f"unknown job kind {name!r} (known: {', '.join(known)})",
                code="unknown_job_kind",
                details={"kind": name, "known": known},
            )
        return kind

    async def resume(self) -> bool:
        """Start the supervisor if it is not running, so jobs left queued or running (by a
        whole cluster's restart) go on without waiting for the next submission."""
        return await self._runner.ensure_supervisor()

    async def submit(
        self, context: RequestContext, request: JobCreate, wait_s: float = 0.0
    ) -> JobAccepted:
        """Validate, record (queued) and hand to the supervisor; with ``wait_s``, answer when
        the job has ended or after that many seconds, whichever is first."""
        workspace = context.require_workspace()
        kind = self._kind(request.kind)
        try:
            params = kind.parse(request.params)
        except ValidationError as exc:
            raise ValidationFailed(
                f"invalid params for a {kind.name} job",
                code="invalid_params",
                details={"errors": json.loads(exc.json(include_url=False, include_input=False))},
            ) from None
        catalog = DatasetCatalog(self._db, workspace)
        params = await kind.validate(params, catalog)
        params, pinned = await self._govern_inputs(context, kind, params)
        job = uuid.uuid4()
        async with self._db.transaction(str(workspace)) as conn:
            await store.lock_workspace_jobs(conn, workspace)
            running = await store.count_active(conn)
            # Past this month's compute seconds, no new job starts (what runs on is overage).
            await self._quotas.check_all(
                conn,
                workspace,
                [
                    QuotaAsk(quota=Quota.CONCURRENT_JOBS, amount=1, in_use=running),
                    QuotaAsk(quota=Quota.COMPUTE_SECONDS_PER_MONTH, amount=0),
                ],
            )
            # With the governance of its inputs as the submitter sees them (the result's column
            # lineage is the supervisor's to record, with the result).
            row = await store.insert(
                conn,
                job,
                workspace,
                kind.name,
                request.name,
                params.model_dump(mode="json"),
                self._settings.max_attempts,
                context.actor,
                pinned,
            )
        # The supervisor reads the row from its own connection: a request's keyed transaction
        # (Idempotency-Key) must commit before it is asked.
        await settle_pending()
        try:
            await self._runner.start(job, catalog.known(kind.inputs(params)))
        except RiverGenError as exc:
            # The supervisor also picks up queued jobs when it starts; but a job nobody can run
            # now is refused rather than left waiting.
            async with self._db.transaction(str(workspace)) as conn:
                await store.finish(
                    conn,
                    job,
                    "failed",
                    message=exc.message,
                    seconds=0.0,
                    error={"code": exc.error_code, "message": exc.message},
                )
            raise
        view = job_view(row)
        if wait_s > 0:
            view = await self.get(context, job, wait_s, queued=view)
        return JobAccepted(job_id=job, **view.model_dump())

    async def _govern_inputs(
        self, context: RequestContext, kind: JobKind[Any], params: Any
    ) -> tuple[Any, dict[str, Any]]:
        """Refuse what the submitter's policies deny (403 ``dataset_denied``,
        ``column_denied``), clamp a query's limit to their row limit, and what the supervisor
        applies to each input when it loads it (dataset id -> Governed as JSON)."""
        inputs = [dataset for dataset, _ in kind.inputs(params)]
        governed = await self._governance.governed(context, inputs)
        named: dict[UUID, set[str]] = {}
        if isinstance(params, QuerySpec):
            named = {dataset: query_columns(params) for dataset in inputs}
        elif isinstance(params, SqlQuery):
            for pin in params.inputs.values():
                named.setdefault(pin.dataset, set()).update(pin.columns or [])
        for dataset, item in governed.items():
            check_columns(item, named.get(dataset, set()))
        if isinstance(params, QuerySpec | SqlQuery):
            limits = [g.max_rows for g in governed.values() if g.max_rows is not None]
            if limits:
                limit = min([*limits, *([params.limit] if params.limit is not None else [])])
                params = params.model_copy(update={"limit": limit})
        pinned = {
            str(dataset): item.model_dump(mode="json")
            for dataset, item in governed.items()
            if changes_data(item)
        }
        return params, pinned

    async def get(
        self,
        context: RequestContext,
        job: UUID,
        wait_s: float = 0.0,
        *,
        queued: JobView | None = None,
    ) -> JobView:
        """The job as the reader may see it; with ``wait_s``, once it has ended or after that
        many seconds, whichever is first. ``queued``: the job as its submitter just recorded
        it (not read again before the wait)."""
        workspace = str(context.require_workspace())
        latest: JobView | None = queued
        if not self._ends.listening:
            queued = None  # an end announced before this process listened is read, not missed

        async def ended(announced: JobView | None = None) -> bool:
            nonlocal latest, queued
            if announced is not None and latest is not None:
                # The row as its end committed it, for a job already found in this workspace.
                latest = announced
                return True
            if queued is not None:
                queued = None  # the first check: the job was queued a moment ago
                return False
            async with self._db.transaction(workspace) as conn:
                row = await store.get(conn, job)
            latest = job_view(row) if row is not None else None
            return latest is None or latest.state.finished

        if wait_s > 0:
            await self._ends.wait(job, wait_s, ended)
        else:
            await ended()
        if latest is None:
            raise job_not_found(job)
        return (await self._governed_views(context, [latest]))[0]

    async def _governed_views(self, context: RequestContext, views: list[JobView]) -> list[JobView]:
        """``views`` with the result's summary (a model's metrics, an algorithm's figures:
        computed over the inputs) left out for a caller whose policies change the result's
        data (it inherits what they hide of the inputs); where the job ran is always shown."""
        results = [
            v.result.dataset_id for v in views if v.result is not None and of_data(v.result.summary)
        ]
        if not results:
            return views
        governed = await self._governance.governed(context, results)
        return [
            v.model_copy(
                update={
                    "result": v.result.model_copy(update={"summary": run_facts(v.result.summary)})
                }
            )
            if v.result is not None
            and of_data(v.result.summary)
            and changes_data(governed[v.result.dataset_id])
            else v
            for v in views
        ]

    async def list_jobs(
        self, context: RequestContext, state: JobState | None, limit: int, cursor: str | None
    ) -> JobPage:
        after = decode_cursor(cursor)
        async with self._db.transaction(str(context.require_workspace())) as conn:
            rows = await store.page(conn, state.value if state else None, after, limit)
        return JobPage(
            items=await self._governed_views(context, [job_view(r) for r in rows[:limit]]),
            next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
        )

    async def cancel(self, context: RequestContext, job: UUID) -> JobView:
        """Ask a job to stop: a queued one is cancelled at once, a running one within seconds
        (its state turns ``cancelled``). 409 ``job_finished`` for a job that has ended."""
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            row = await store.get(conn, job, lock=True)
            if row is None:
                raise job_not_found(job)
            if JobState(row["state"]).finished:
                raise Conflict(
                    f"job {job} has {row['state']} already",
                    code="job_finished",
                    details={"state": row["state"]},
                )
            row = await store.request_cancel(conn, job)
            if row["state"] == JobState.QUEUED:
                row = await store.finish(conn, job, "cancelled", message="cancelled", seconds=0.0)
                await add_to_outbox(
                    conn,
                    Topic.JOBS,
                    Event(
                        type=JOB_CANCELLED,
                        workspace_id=workspace,
                        actor=context.actor,
                        data={"job_id": str(job), "kind": row["kind"]},
                    ),
                )
        if row["state"] == JobState.RUNNING:
            await self._runner.cancel(job)
        return job_view(row)

    async def result(
        self, context: RequestContext, job: UUID, limit: int, cursor: str | None
    ) -> ResultPage:
        """A page of the result's rows, in order; 409 ``job_not_succeeded`` before success."""
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            row = await store.get(conn, job)
            if row is None:
                raise job_not_found(job)
            if row["state"] != JobState.SUCCEEDED:
                raise Conflict(
                    f"job {job} is {row['state']}: it has no result",
                    code="job_not_succeeded",
                    details={"state": row["state"]},
                )
            key = await conn.fetchval(
                "SELECT object_key FROM dataset_versions WHERE dataset_id = $1 AND version = $2",
                row["result_dataset_id"],
                row["result_version"],
            )
        if key is None:
            raise NotFound(f"the result of job {job} was deleted", code="job_result_not_found")
        shown = await self._result_governance(context, row)
        offset = _offset(cursor)
        cap = shown.max_rows
        if cap is not None:  # a row limit caps what pages show, in all
            limit = max(0, min(limit, cap - offset))
        columns, rows, total = await self._runner.rows(
            key, offset, limit, shown if changes_data(shown) else None
        )
        total = min(total, cap) if cap is not None else total
        after = offset + len(rows)
        return ResultPage(
            job_id=job,
            dataset_id=row["result_dataset_id"],
            version=row["result_version"],
            columns=columns,
            rows=rows,
            row_count=total,
            next_cursor=_encode_offset(after) if after < total else None,
        )

    async def _result_governance(self, context: RequestContext, row: Any) -> Governed:
        # The result dataset inherits its inputs' governance for the reader (by column name).
        dataset = row["result_dataset_id"]
        shown = (await self._governance.governed(context, [dataset]))[dataset]
        check_columns(shown, [])
        return shown


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        value = base64.urlsafe_b64decode(cursor.encode()).decode()
        kind, number = value.split(":")
        if kind != "row" or int(number) < 0:
            raise ValueError(value)
        return int(number)
    except ValueError:
        raise ValidationFailed(
            "the cursor is not one this API gave", code="invalid_cursor"
        ) from None


def _encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"row:{offset}".encode()).decode()
