"""Execution Support's write-back: a prompt's answer kept as a new dataset.

The SQL is admitted against the catalog and run as a ``query`` job (``{"sql": ...}``) of the
person who confirmed it, so the job governs its inputs for them, records its lineage, and its result
dataset inherits what its inputs' policies hide from each later reader.
"""

from __future__ import annotations

import asyncio
import time

from rivergen.accounts.principal import RequestContext
from rivergen.agents.prompt_studio.ports import SavedAnswer
from rivergen.errors import ValidationFailed
from rivergen.jobs import JobService
from rivergen.jobs.schemas import JobCreate, JobState
from rivergen.services.execution.sql import compile_sql
from rivergen.services.planning.catalog import PromptCatalog

POLL_S = 0.2


class JobResultSaver:
    """:class:`rivergen.agents.prompt_studio.ports.ResultSaver` as a ``query`` job; waits up to
    ``wait_s`` for it (a longer job goes on, and its result appears when it ends)."""

    def __init__(self, jobs: JobService, wait_s: float) -> None:
        self._jobs = jobs
        self._wait_s = wait_s

    async def save(
        self, context: RequestContext, sql: str, name: str, catalog: PromptCatalog
    ) -> SavedAnswer:
        compiled = compile_sql(sql, catalog)
        accepted = await self._jobs.submit(
            context, JobCreate(kind="query", params={"sql": compiled.sql}, name=name)
        )
        job = accepted.job_id
        deadline = time.monotonic() + self._wait_s
        view = await self._jobs.get(context, job)
        while not view.state.finished and time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
            view = await self._jobs.get(context, job)
        if view.state == JobState.FAILED and view.error is not None:
            raise ValidationFailed(
                view.error.message, code=view.error.code, details={"job_id": str(job)}
            )
        saved = SavedAnswer(job_id=job, name=name, sql=compiled.sql)
        if view.result is not None:
            saved.dataset_id, saved.version = view.result.dataset_id, view.result.version
        return saved
