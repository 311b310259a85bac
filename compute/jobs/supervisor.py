"""The job supervisor: one detached, named Ray actor that owns every running job.

Ray tasks share fate with their owner, so a job's tasks must not be owned by a Serve replica
that may go away: the gateway only records a job and asks the supervisor (by name) to run it.
The supervisor records every state change in Postgres (through :class:`JobRecorder`, with its
events), so when it dies Ray restarts it (``max_restarts=-1``) and it picks up every job still
``queued`` or ``running``: a job is never left ``running`` with nobody behind it.

Inside the actor an event loop runs in a thread of its own (started by ``__init__``, so a
restarted actor resumes before anyone calls it); the actor's methods hand work to that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

import ray
from ray.exceptions import RayTaskError, TaskCancelledError

from compute.jobs.kinds import platform_kinds
from compute.jobs.results import stage_result
from compute.staging import RayDatasetCompute
from rivergen.cache import connect_redis
from rivergen.clients import require
from rivergen.datasets.schemas import StagedVersion
from rivergen.db import Database
from rivergen.engine.lineage import QueryLineage
from rivergen.errors import RiverGenError
from rivergen.jobs.catalog import DatasetCatalog
from rivergen.jobs.ends import announce_end
from rivergen.jobs.kinds import JobKind, KindOutput
from rivergen.jobs.recorder import JobRecorder, result_key
from rivergen.jobs.schemas import DatasetInput, job_view
from rivergen.metrics import record_job
from rivergen.services.governance import Governed
from rivergen.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

# How often (in heartbeats) the supervisor looks for queued jobs nobody handed it (a gateway
# that died between recording a job and starting it).
_RESCAN_EVERY = 5


class JobCancelled(Exception):
    """The job's cancellation was asked (raised inside the supervisor only)."""


@dataclass
class JobRun:
    """One attempt of one job: what its context offers a kind, what a cancel must reach."""

    job_id: UUID
    workspace_id: UUID
    attempt: int
    params: Any
    keys: Mapping[tuple[UUID, int], str]
    compute: RayDatasetCompute
    settings: Settings
    # What the submitter's policies made of each input (pinned when the job was accepted).
    governed: Mapping[UUID, Governed] = field(default_factory=dict)
    min_nnz_per_block: int = 4_000_000
    # The stored bytes of each input (the catalog's size_bytes).
    sizes: Mapping[tuple[UUID, int], int] = field(default_factory=dict)
    refs: list[Any] = field(default_factory=list)
    cancel_flag: threading.Event = field(default_factory=threading.Event)
    pending: tuple[float, str] | None = None
    # A job's progress is first written once it has run for ``interval_s`` (a short job ends
    # without a progress write or event: its end says it all).
    written_at: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called (from any thread) when progress is due to be written.
    on_progress: Callable[[], None] | None = None
    interval_s: float = 1.0

    # JobContext -----------------------------------------------------------------------------

    @property
    def result_key(self) -> str:
        return result_key(self.workspace_id, self.job_id)

    def load(self, dataset: UUID, version: int, columns: list[str] | None = None) -> Any:
        key = self.keys.get((dataset, version))
        if key is None:
            raise KeyError(f"dataset {dataset} v{version} is not an input of this job")
        return self.track(self.compute.load(key, columns, self.governed.get(dataset)))

    def source(self, dataset: UUID, version: int) -> tuple[str, Governed | None]:
        key = self.keys.get((dataset, version))
        if key is None:
            raise KeyError(f"dataset {dataset} v{version} is not an input of this job")
        return key, self.governed.get(dataset)

    def size(self, dataset: UUID, version: int) -> int:
        if (dataset, version) not in self.keys:
            raise KeyError(f"dataset {dataset} v{version} is not an input of this job")
        return self.sizes.get((dataset, version), 0)

    def progress(self, percent: float, message: str = "") -> None:
        with self.lock:
            self.pending = (max(0.0, min(100.0, float(percent))), message)
            due = time.monotonic() - self.written_at >= self.interval_s
        if due and self.on_progress is not None:
            self.on_progress()

    def cancelled(self) -> bool:
        return self.cancel_flag.is_set()

    def track(self, ref: T) -> T:
        with self.lock:
            self.refs.append(ref)
        if self.cancel_flag.is_set():
            ray.cancel(ref, recursive=True)
        return ref

    # The supervisor's side ------------------------------------------------------------------

    def cancel(self) -> None:
        self.cancel_flag.set()
        with self.lock:
            refs = list(self.refs)
        for ref in refs:
            with contextlib.suppress(Exception):
                ray.cancel(ref, recursive=True)

    def take_progress(self) -> tuple[float, str] | None:
        now = time.monotonic()
        with self.lock:
            if self.pending is None or now - self.written_at < self.interval_s:
                return None
            pending, self.pending, self.written_at = self.pending, None, now
        return pending


class JobSupervisor:
    """The actor class (see :func:`supervisor_options` for how it is created)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._kinds: dict[str, JobKind[Any]] = platform_kinds()
        self._compute = RayDatasetCompute(settings)
        self._runs: dict[UUID, JobRun | None] = {}
        self._tasks: dict[UUID, asyncio.Task[None]] = {}
        # Where the end of each job is announced to the gateways' waiters (if configured).
        app = settings.redis_app
        self._redis = connect_redis(app.url.get_secret_value(), app) if app.url else None
        self._loop = asyncio.new_event_loop()
        self._ready: asyncio.Future[JobRecorder] = self._loop.create_future()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="job-supervisor", daemon=True
        )
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._main(), self._loop)

    # Actor methods (called by the gateway through the actor handle) -------------------------

    def run(self, job_id: str, inputs: Sequence[DatasetInput] = ()) -> None:
        """Own a job (no-op if owned already): run it to its end. ``inputs``: the pinned
        versions its submitter found (not read again)."""
        self._call(self._adopt(UUID(job_id), inputs))

    def cancel(self, job_id: str) -> None:
        """Stop a job now (its cancel flag is in Postgres already)."""
        self._call(self._cancel(UUID(job_id)))

    def owned(self) -> list[str]:
        """The jobs this supervisor is running now."""
        return self._call(self._owned())

    def ready(self) -> bool:
        self._call(self._recorder())
        return True

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    # The loop ---------------------------------------------------------------------------------

    async def _recorder(self) -> JobRecorder:
        return await asyncio.shield(self._ready)

    async def _owned(self) -> list[str]:
        return [str(job) for job in self._tasks]

    async def _main(self) -> None:
        postgres = self._settings.postgres.model_copy(
            update={"pool_min_size": 1, "pool_max_size": 4}
        )
        try:
            db = Database(require(postgres.dsn, "postgres", "RIVERGEN_POSTGRES__DSN"), postgres)
        except RiverGenError as exc:
            self._ready.set_exception(exc)  # every call answers with it, at once
            return
        while True:
            try:
                await db.open()
                break
            except RiverGenError:
                log.exception("job supervisor: postgres unavailable, retrying")
                await asyncio.sleep(1.0)
        self._db = db
        recorder = JobRecorder(db)
        self._ready.set_result(recorder)
        beat = 0
        while True:
            try:
                if beat % _RESCAN_EVERY == 0:
                    for job in await recorder.active():
                        await self._adopt(job)
                await self._heartbeat(recorder)
            except Exception:  # the loop outlives any failed round (Postgres away a moment)
                log.exception("job supervisor: heartbeat failed")
            beat += 1
            await asyncio.sleep(self._settings.jobs.heartbeat_interval_s)

    async def _heartbeat(self, recorder: JobRecorder) -> None:
        runs = {job: run for job, run in self._runs.items() if run is not None}
        for job in await recorder.heartbeat(list(self._tasks)):
            await self._cancel(job)
        for run in runs.values():
            await self._flush(run)

    async def _flush(self, run: JobRun) -> None:
        pending = run.take_progress()
        if pending is not None:
            recorder = await self._recorder()
            row = await recorder.get(run.job_id)
            if row is not None:
                await recorder.progress(row, *pending)

    def _flush_soon(self, run: JobRun) -> None:
        def flush() -> None:
            task = asyncio.ensure_future(self._flush(run))
            task.add_done_callback(_log_failure)

        self._loop.call_soon_threadsafe(flush)

    async def _adopt(self, job: UUID, inputs: Sequence[DatasetInput] = ()) -> None:
        await self._recorder()
        if job in self._tasks:
            return
        self._runs[job] = None
        task = asyncio.create_task(self._drive(job, inputs), name=f"job-{job}")
        self._tasks[job] = task

        def done(_: asyncio.Task[None]) -> None:
            self._tasks.pop(job, None)
            self._runs.pop(job, None)

        task.add_done_callback(done)

    async def _cancel(self, job: UUID) -> None:
        run = self._runs.get(job)
        if run is not None:
            run.cancel()

    # One job ----------------------------------------------------------------------------------

    async def _drive(self, job: UUID, inputs: Sequence[DatasetInput]) -> None:
        recorder = await self._recorder()
        try:
            # The submitter's inputs serve the first attempt; a retry reads them again.
            while (ended := await self._attempt(recorder, job, inputs)) is None:
                inputs = ()
        except Exception:
            log.exception("job supervisor: job %s could not be recorded", job)
            return
        if self._redis is not None:
            view = job_view(ended) if ended is not _ENDED else None
            await announce_end(self._redis, job, view)

    async def _attempt(
        self, recorder: JobRecorder, job: UUID, found: Sequence[DatasetInput] = ()
    ) -> Any:
        """One attempt: the job's ended row once it has ended (:data:`_ENDED` if another
        ended it), None when another attempt follows."""
        row = await recorder.claim(job)
        if row is None:
            return await self._unclaimed(recorder, job)
        started = time.monotonic()
        record_job(row["kind"], "started")
        try:
            done = await self._work(recorder, row, found)
        except JobCancelled:
            ended = await recorder.cancelled(row, time.monotonic() - started)
            record_job(row["kind"], "cancelled", time.monotonic() - started)
            return ended or _ENDED
        except RiverGenError as exc:
            error = {"code": exc.error_code, "message": exc.message, "details": exc.details}
            seconds = time.monotonic() - started
            ended = await recorder.failed(row, error, seconds, attempts=row["attempts"])
            record_job(row["kind"], "failed", time.monotonic() - started)
            return ended or _ENDED
        except Exception as exc:  # a crash, a lost worker: worth another attempt
            return await self._failed_attempt(recorder, row, exc, time.monotonic() - started)
        try:
            ended = await recorder.succeeded(
                row,
                done.staged,
                done.inputs,
                time.monotonic() - started,
                done.summary,
                done.lineage,
                done.governed,
                stored=_stored(done.stored),
            )
        except ResultNotStored as exc:
            return await self._failed_attempt(
                recorder, row, exc.__cause__ or exc, time.monotonic() - started
            )
        record_job(row["kind"], "succeeded", time.monotonic() - started)
        return ended or _ENDED

    async def _failed_attempt(
        self, recorder: JobRecorder, row: Any, exc: BaseException, seconds: float
    ) -> Any:
        """An attempt that crashed: another one if the job has attempts left (None), else
        the job fails (its ended row, as :meth:`_attempt`)."""
        reason = f"attempt {row['attempts']} of {row['max_attempts']} failed: {_reason(exc)}"
        log.warning("job %s: %s", row["id"], reason)
        if row["attempts"] >= row["max_attempts"]:
            ended = await recorder.failed(
                row, {"code": "job_failed", "message": reason}, seconds, attempts=row["attempts"]
            )
            record_job(row["kind"], "failed", seconds)
            return ended or _ENDED
        await recorder.retrying(row, seconds, reason + "; retrying")
        return None

    async def _unclaimed(self, recorder: JobRecorder, job: UUID) -> Any:
        """A job the supervisor could not claim: ended, being cancelled, or out of attempts
        (the supervisor died during the last one). As :meth:`_attempt`."""
        row = await recorder.get(job)
        if row is None:
            return _ENDED
        if row["state"] not in ("queued", "running"):
            return row
        if row["cancel_requested"]:
            ended = await recorder.cancelled(row, 0.0)
            record_job(row["kind"], "cancelled", 0.0)
            return ended or _ENDED
        if row["attempts"] >= row["max_attempts"]:
            ended = await recorder.failed(
                row,
                {
                    "code": "attempts_exhausted",
                    "message": f"the job was interrupted in its last attempt ({row['attempts']} of "
                    f"{row['max_attempts']}); last: {row['message'] or 'no message'}",
                },
                0.0,
                attempts=row["attempts"],
            )
            record_job(row["kind"], "failed", 0.0)
            return ended or _ENDED
        return None  # claimable again (it changed between the two reads): try once more

    async def _work(
        self, recorder: JobRecorder, row: Any, found_before: Sequence[DatasetInput]
    ) -> Done:
        kind = self._kinds.get(row["kind"])
        if kind is None:
            raise RiverGenError(f"no job kind {row['kind']!r} here", code="unknown_job_kind")
        params = kind.parse(_json(row["params"]))
        inputs = kind.inputs(params)
        catalog = DatasetCatalog(self._db, row["workspace_id"])
        catalog.remember(found_before)
        found = {(f.dataset, f.version): f for f in await catalog.pinned(inputs)}
        run = JobRun(
            job_id=row["id"],
            workspace_id=row["workspace_id"],
            attempt=row["attempts"],
            params=params,
            keys={k: f.object_key for k, f in found.items()},
            sizes={k: f.size_bytes for k, f in found.items()},
            compute=self._compute,
            settings=self._settings,
            governed=_governed(row),
            interval_s=self._settings.jobs.progress_interval_s,
            min_nnz_per_block=self._settings.jobs.min_nnz_per_block,
        )
        run.on_progress = lambda: self._flush_soon(run)
        self._runs[row["id"]] = run
        run.progress(0, f"attempt {row['attempts']} of {row['max_attempts']} started")
        if row["cancel_requested"]:
            run.cancel()
        # What recording the result needs is worked out while the job runs (off its path): the
        # result's column lineage, and whether policies govern it.
        lineage = asyncio.create_task(kind.lineage(params, catalog))
        governs = asyncio.create_task(recorder.governs_result(row, inputs))
        try:
            if inspect.iscoroutinefunction(kind.run):
                output = await kind.run(run)
            else:
                output = await asyncio.to_thread(kind.run, run)
            staged, summary, stored = await self._written(run, output)
            column_lineage, governed = await lineage, await governs
        except (TaskCancelledError, RayTaskError, asyncio.CancelledError) as exc:
            if run.cancelled():
                raise JobCancelled from None
            if isinstance(exc, RayTaskError) and isinstance(exc.cause, RiverGenError):
                raise exc.cause from None
            raise
        finally:
            lineage.cancel()
            governs.cancel()
        if run.cancelled():
            raise JobCancelled
        return Done(staged, inputs, summary, column_lineage, governed, stored)

    async def _written(
        self, run: JobRun, output: Any
    ) -> tuple[StagedVersion, dict[str, Any], Awaitable[Any] | None]:
        """The kind's result written as the job's result object (unless its task wrote it or
        is writing it: then what completes once it is stored)."""
        summary: dict[str, Any] = {}
        table, stored = output, None
        if isinstance(output, KindOutput):
            table, summary, stored = output.table, output.summary, output.stored
        if run.cancelled():
            raise JobCancelled
        if isinstance(table, StagedVersion):
            return table, summary, stored
        run.progress(95, "writing the result")
        staged: StagedVersion = await run.track(
            stage_result.remote(self._settings, table, run.result_key)
        )
        return staged, summary, None


# An attempt's end when the job ended by another's hand (its row is not at hand).
_ENDED = object()


class ResultNotStored(Exception):
    """The result's object could not be stored (its cause says why): the attempt failed."""


async def _stored(stored: Awaitable[Any] | None) -> None:
    if stored is None:
        return
    try:
        await stored
    except Exception as exc:
        raise ResultNotStored from exc


@dataclass
class Done:
    """What an attempt that succeeded leaves to record."""

    staged: StagedVersion
    inputs: list[tuple[UUID, int]]
    summary: dict[str, Any]
    lineage: QueryLineage | None
    governed: bool
    # Completes once the result's object is stored (None: it is already).
    stored: Awaitable[Any] | None


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("job supervisor: progress not recorded", exc_info=task.exception())


def _json(value: Any) -> dict[str, Any]:
    import json

    result: dict[str, Any] = json.loads(value) if isinstance(value, str) else value
    return result


def _governed(row: Any) -> dict[UUID, Governed]:
    pinned = _json(row["governance"]) if row["governance"] is not None else {}
    # The inputs are the job's workspace's: its key hashes their masks (also for governance
    # pinned before it named the workspace).
    return {
        UUID(dataset): Governed.model_validate({**g, "workspace_id": row["workspace_id"]})
        for dataset, g in pinned.items()
    }


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:500]


def supervisor_options(settings: Settings) -> dict[str, Any]:
    """Options of the one supervisor actor: named, detached, restarted without end."""
    jobs = settings.jobs
    return {
        "name": jobs.supervisor_name,
        "namespace": jobs.namespace,
        "lifetime": "detached",
        "max_restarts": -1,
        # Calls in flight when it restarts are sent again (each is idempotent).
        "max_task_retries": 3,
        "get_if_exists": True,
        "num_cpus": jobs.supervisor_num_cpus,
        # The gateway's calls return at once; a cancel must not wait behind a start.
        "max_concurrency": 8,
    }


JobSupervisorActor = ray.remote(JobSupervisor)
