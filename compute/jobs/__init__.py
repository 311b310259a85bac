"""Compute jobs on Ray: the job supervisor (a detached actor that owns running jobs), the job
kinds, and the runner the gateway reaches the supervisor through."""

from compute.jobs.kinds import QueryKind, SleepKind, platform_kinds
from compute.jobs.runner import RayJobRunner, job_supervisor
from compute.jobs.supervisor import JobSupervisor, supervisor_options

__all__ = [
    "JobSupervisor",
    "QueryKind",
    "RayJobRunner",
    "SleepKind",
    "job_supervisor",
    "platform_kinds",
    "supervisor_options",
]
