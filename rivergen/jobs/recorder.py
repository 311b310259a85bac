"""The job supervisor's record: every state change of a job, with its events, in one Postgres
transaction each (the outbox), so a job's row and what clients hear never disagree.

Finishing is idempotent: a job ends once (``state`` moves only from queued or running), and a
result is registered under a dataset id and object key that depend only on the job, so a retry
or a resumed supervisor never registers it twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any
from uuid import UUID

from rivergen.billing import USAGE_COMPUTE_USED
from rivergen.datasets import store as datasets
from rivergen.datasets.schemas import StagedVersion
from rivergen.datasets.service import version_events
from rivergen.db import Database
from rivergen.engine.lineage import QueryLineage
from rivergen.events import Event, Queued, Topic, add_all_to_outbox, add_to_outbox
from rivergen.jobs import store
from rivergen.services.governance import GovernanceService

JOB_PROGRESS = "job.progress"
"""``data: {job_id, progress, message}``; on :attr:`Topic.JOBS`."""
JOB_COMPLETED = "job.completed"
"""``data: {job_id, kind, result: {dataset_id, version, row_count, summary},
compute_seconds}``; ``row_count`` null and ``summary`` only where the job ran (:data:`RUN_FACTS`)
when policies govern the result's data for some role (it goes to every member)."""
JOB_FAILED = "job.failed"
"""``data: {job_id, kind, error: {code, message, details}, attempts}``."""
JOB_CANCELLED = "job.cancelled"
"""``data: {job_id, kind}``."""

# What a job's summary says of where and how it ran (not computed from the data's values):
# shown to every reader, also where policies hide the rest of the summary.
RUN_FACTS = frozenset({"engine", "input_bytes", "distributed_refused"})


def run_facts(summary: dict[str, Any] | None) -> dict[str, Any]:
    """The part of a job's summary every reader sees (:data:`RUN_FACTS`)."""
    return {k: v for k, v in (summary or {}).items() if k in RUN_FACTS}


def of_data(summary: dict[str, Any] | None) -> bool:
    """Whether a job's summary says anything computed over its inputs' data."""
    return any(k not in RUN_FACTS for k in summary or {})


_RESULTS = uuid.UUID("6f1d4c1e-3b7a-4f4e-9a61-0c7b1f2d9e55")


def result_dataset_id(job: UUID) -> UUID:
    """The id of a job's result dataset: the same for every attempt."""
    return uuid.uuid5(_RESULTS, str(job))


def result_key(workspace: UUID, job: UUID) -> str:
    """Where a job's result Parquet goes: the same for every attempt (a retry overwrites)."""
    return f"workspaces/{workspace}/datasets/{result_dataset_id(job)}/job-{job}.parquet"


def _event(kind: str, row: Any, data: dict[str, Any]) -> Event:
    return Event(
        type=kind,
        workspace_id=row["workspace_id"],
        actor=row["created_by"],
        data={"job_id": str(row["id"]), **data},
    )


class JobRecorder:
    """Reads and writes jobs for the supervisor (as the platform: it spans workspaces)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._governance = GovernanceService(db)

    async def active(self) -> list[UUID]:
        async with self._db.transaction() as conn:
            return await store.active(conn)

    async def get(self, job: UUID) -> Any:
        async with self._db.transaction() as conn:
            return await store.get(conn, job)

    async def claim(self, job: UUID) -> Any:
        """Start an attempt: the job's row, or None if it has ended, its cancellation was
        asked or it has no attempt left."""
        async with self._db.transaction() as conn:
            return await store.claim(conn, job)

    async def heartbeat(self, jobs: list[UUID]) -> list[UUID]:
        if not jobs:
            return []
        async with self._db.transaction() as conn:
            return await store.heartbeat(conn, jobs)

    async def progress(self, row: Any, percent: float, message: str) -> None:
        async with self._db.transaction(str(row["workspace_id"])) as conn:
            if await store.set_progress(conn, row["id"], percent, message):
                await add_to_outbox(
                    conn,
                    Topic.JOBS,
                    _event(JOB_PROGRESS, row, {"progress": percent, "message": message}),
                )

    async def retrying(self, row: Any, seconds: float, message: str) -> None:
        """An attempt failed and another follows: its seconds count, the reason shows."""
        async with self._db.transaction(str(row["workspace_id"])) as conn:
            await store.add_seconds(conn, row["id"], seconds, message)
            await add_all_to_outbox(conn, _metered(row, seconds))

    async def succeeded(
        self,
        row: Any,
        staged: StagedVersion,
        inputs: list[tuple[UUID, int]],
        seconds: float,
        summary: dict[str, Any] | None = None,
        lineage: QueryLineage | None = None,
        governed: bool | None = None,
        stored: Awaitable[None] | None = None,
    ) -> Any:
        """Register the result as a dataset version (lineage: inputs -> job -> result, and the
        result's column lineage when known) and end the job: its ended row; None if it had
        ended already.
        ``governed``: :meth:`governs_result`, if asked already. ``stored``: completes once the
        result's object is stored (it is being written meanwhile); the transaction commits
        only then, and not at all if it raises."""
        workspace, job = row["workspace_id"], row["id"]
        dataset = result_dataset_id(job)
        if governed is None:
            governed = await self.governs_result(row, inputs)
        async with self._db.transaction(str(workspace)) as conn:
            locked = await store.lock_for_result(conn, job, staged.object_key)
            if locked is None or locked["state"] != "running":
                return None
            events: list[Queued] = []
            if locked["registered"] is not None:  # by an attempt whose end was not recorded
                version = int(locked["registered"])
            else:
                version, events = await self._register(conn, row, dataset, staged, inputs, governed)
            ended = await store.finish(
                conn,
                job,
                "succeeded",
                message="done",
                seconds=seconds,
                result=(dataset, version),
                summary=summary or {},
                lineage=lineage,
            )
            events.append(
                _queued(
                    Topic.JOBS,
                    _event(
                        JOB_COMPLETED,
                        ended,
                        {
                            "kind": row["kind"],
                            "compute_seconds": ended["compute_seconds"],
                            "result": {
                                "dataset_id": str(dataset),
                                "version": version,
                                "row_count": None if governed else staged.row_count,
                                "summary": run_facts(summary) if governed else summary or {},
                            },
                        },
                    ),
                )
            )
            await add_all_to_outbox(conn, events + _metered(row, seconds))
            if stored is not None:
                await stored
        return ended

    async def governs_result(self, row: Any, inputs: list[tuple[UUID, int]]) -> bool:
        """Whether policies govern the job's result for some role: its events go to every
        member, so then they carry no count or figure (the result inherits its inputs'
        governance). Known before the result is (the supervisor asks while the job runs)."""
        return await self._governance.governs_anyone(
            row["workspace_id"], [result_dataset_id(row["id"]), *(d for d, _ in inputs)]
        )

    async def failed(
        self, row: Any, error: dict[str, Any], seconds: float, *, attempts: int
    ) -> Any:
        """End the job as failed: its ended row; None if it had ended already."""
        async with self._db.transaction(str(row["workspace_id"])) as conn:
            ended = await store.finish(
                conn, row["id"], "failed", message=error["message"], seconds=seconds, error=error
            )
            if ended is None:
                return None
            await add_to_outbox(
                conn,
                Topic.JOBS,
                _event(
                    JOB_FAILED, row, {"kind": row["kind"], "error": error, "attempts": attempts}
                ),
            )
            await add_all_to_outbox(conn, _metered(row, seconds))
        return ended

    async def cancelled(self, row: Any, seconds: float) -> Any:
        """End the job as cancelled: its ended row; None if it had ended already."""
        async with self._db.transaction(str(row["workspace_id"])) as conn:
            ended = await store.finish(
                conn, row["id"], "cancelled", message="cancelled", seconds=seconds
            )
            if ended is None:
                return None
            await add_to_outbox(conn, Topic.JOBS, _event(JOB_CANCELLED, row, {"kind": row["kind"]}))
            await add_all_to_outbox(conn, _metered(row, seconds))
        return ended

    async def _register(
        self,
        conn: Any,
        row: Any,
        dataset: UUID,
        staged: StagedVersion,
        inputs: list[tuple[UUID, int]],
        governed: bool,
    ) -> tuple[int, list[Queued]]:
        """The result as a version of the job's result dataset (made with it the first time),
        its lineage, and its events (queued by the caller)."""
        workspace, job = row["workspace_id"], row["id"]
        name = row["name"] or f"{row['kind']}-{str(job)[:8]}"
        made = await datasets.insert_indexed_dataset(
            conn,
            dataset,
            workspace,
            name,
            f"{name}-{str(job)[:8]}",
            f"Result of {row['kind']} job {job}.",
            row["created_by"],
            staged.columns,
        )
        source = {"kind": "job", "id": str(job), "name": row["name"] or row["kind"]}
        version = await datasets.insert_version(
            conn, dataset, workspace, staged, source, row["created_by"]
        )
        edges: list[datasets.LineageEdge] = [
            ("dataset", source_dataset, source_version, "job", job, None, "input_of")
            for source_dataset, source_version in inputs
        ]
        edges.append(("job", job, None, "dataset", dataset, version, "produced_by"))
        await datasets.add_lineage_edges(conn, workspace, edges)
        if not made:  # a dataset made before: its search document follows the new columns
            await datasets.reindex(conn, dataset)
        count = None if governed else staged.row_count
        return version, version_events(
            workspace, row["created_by"], dataset, version, count, source, staged
        )


def _queued(topic: str, event: Event) -> Queued:
    return topic, event, None


def _metered(row: Any, seconds: float) -> list[Queued]:
    """The compute seconds a job used, as its usage event (none for no time)."""
    if seconds <= 0:
        return []
    return [
        _queued(
            Topic.JOBS,
            _event(USAGE_COMPUTE_USED, row, {"seconds": round(seconds, 3), "kind": row["kind"]}),
        )
    ]
