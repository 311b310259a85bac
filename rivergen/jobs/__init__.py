"""Execution Support: compute jobs (the job API, their record, and what a job kind is).

- :class:`JobService`: submit, list, get, cancel, page through results (the gateway's side).
- :class:`JobKind`, :class:`JobContext`, :class:`Catalog`: what a kind implements and uses.
- :class:`JobRunner`: the port to the job supervisor (``compute.jobs.RayJobRunner``).
- :class:`JobRecorder`: the supervisor's record of state changes and their events.
"""

from rivergen.jobs.catalog import DatasetCatalog
from rivergen.jobs.kinds import Catalog, JobContext, JobKind
from rivergen.jobs.ports import JobRunner
from rivergen.jobs.recorder import (
    JOB_CANCELLED,
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_PROGRESS,
    JobRecorder,
    result_dataset_id,
    result_key,
)
from rivergen.jobs.schemas import DatasetInput, JobCreate, JobState, JobView
from rivergen.jobs.service import JobService

__all__ = [
    "JOB_CANCELLED",
    "JOB_COMPLETED",
    "JOB_FAILED",
    "JOB_PROGRESS",
    "Catalog",
    "DatasetCatalog",
    "DatasetInput",
    "JobContext",
    "JobCreate",
    "JobKind",
    "JobRecorder",
    "JobRunner",
    "JobService",
    "JobState",
    "JobView",
    "result_dataset_id",
    "result_key",
]
