"""Routes of Execution Support: compute jobs."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status

from rivergen.agents.operations import JobRetry
from rivergen.api.accounts import ERRORS
from rivergen.api.deps import JobsDep, OperationsDep, PageCursor, PageLimit
from rivergen.api.security import Context, authorize
from rivergen.jobs import JobState, JobView
from rivergen.jobs.schemas import JobAccepted, JobCreate, JobPage, ResultPage

router = APIRouter(
    prefix="/api/v1", dependencies=[Depends(authorize)], responses=ERRORS, tags=["jobs"]
)


Jobs = JobsDep
WaitS = Annotated[
    float,
    Query(
        ge=0,
        le=60,
        description="Answer once the job has ended, or after this many seconds (a long poll).",
    ),
]


@router.post("/jobs", status_code=status.HTTP_202_ACCEPTED)
async def submit_job(
    body: JobCreate, context: Context, jobs: Jobs, wait_s: WaitS = 0
) -> JobAccepted:
    """Start a job. Kind `query` (Internal Compute) takes `{dataset, version?, join?, filters,
    columns?, group_by, aggregates, order_by, limit?}`. Everything is checked first (422
    `invalid_params`, `dataset_not_found`, `column_not_found`, `column_type_mismatch`,
    `aggregate_not_numeric`; 403 `quota_exceeded` past the plan's concurrent jobs): a refused
    job leaves nothing behind. Follow it with `GET /jobs/{id}` or the `job.*` events; with
    `wait_s`, the answer comes when the job has ended (or after `wait_s`), its state in it."""
    return await jobs.submit(context, body, wait_s)


@router.get("/jobs")
async def list_jobs(
    context: Context,
    jobs: Jobs,
    state: Annotated[JobState | None, Query(description="Only jobs in this state.")] = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> JobPage:
    """Newest first; follow `next_cursor`."""
    return await jobs.list_jobs(context, state, limit, cursor)


@router.get("/jobs/{job_id}")
async def get_job(job_id: UUID, context: Context, jobs: Jobs, wait_s: WaitS = 0) -> JobView:
    """State, progress, message, attempts, error, timings and the result dataset; with
    `wait_s`, once the job has ended or after `wait_s` seconds, whichever is first."""
    return await jobs.get(context, job_id, wait_s)


@router.post("/jobs/{job_id}/cancel")
async def cancel_job(job_id: UUID, context: Context, jobs: Jobs) -> JobView:
    """Stop a job: a queued one at once, a running one within seconds (state `cancelled`).
    409 `job_finished` once it has ended."""
    return await jobs.cancel(context, job_id)


@router.post("/jobs/{job_id}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry_job(job_id: UUID, context: Context, operations: OperationsDep) -> JobRetry:
    """Queue a failed or cancelled job of this workspace again (a new job, same kind, params
    and name, checked and counted like any submission); 409 `job_not_retryable` otherwise."""
    return await operations.retry_job(context, job_id)


@router.get("/jobs/{job_id}/result")
async def job_result(
    job_id: UUID,
    context: Context,
    jobs: Jobs,
    limit: Annotated[int, Query(ge=1, le=5000, description="Rows per page.")] = 100,
    cursor: PageCursor = None,
) -> ResultPage:
    """The result's rows in order, a page at a time (409 `job_not_succeeded` before the job
    succeeded). The result is also a dataset version (`result.dataset_id`)."""
    return await jobs.result(context, job_id, limit, cursor)
