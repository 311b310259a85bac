"""Execution Support: runs a plan's steps in order, retries what is safe to retry, and reports
each step's outcome, so a plan that fails half way says exactly which half.

Only reads are retried, and only after a transient error (a dependency that did not answer, a
timeout): a write is attempted once, whatever happens, since a write that timed out may have
been done.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from rivergen.errors import DependencyUnavailable, RiverGenError

log = logging.getLogger(__name__)

RETRYABLE: tuple[type[BaseException], ...] = (DependencyUnavailable, TimeoutError, ConnectionError)


class PlanStep(BaseModel):
    id: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    writes: bool = Field(False, description="A write is never retried.")
    depends_on: list[str] = Field(
        default_factory=list, description="Steps that must succeed first (else this is skipped)."
    )


StepStatus = Literal["succeeded", "failed", "skipped"]


class StepOutcome(BaseModel):
    step_id: str
    status: StepStatus
    attempts: int
    duration_ms: float
    result: Any = None
    error: dict[str, Any] | None = Field(None, description="{code, message} of a failure.")


class PlanReport(BaseModel):
    outcomes: list[StepOutcome]

    @property
    def succeeded(self) -> bool:
        return all(o.status == "succeeded" for o in self.outcomes)

    @property
    def partial(self) -> bool:
        """Some steps succeeded and some did not."""
        statuses = {o.status for o in self.outcomes}
        return "succeeded" in statuses and len(statuses) > 1

    def outcome(self, step_id: str) -> StepOutcome:
        return next(o for o in self.outcomes if o.step_id == step_id)


Execute = Callable[[PlanStep], Awaitable[Any]]


def error_of(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, RiverGenError):
        return {"code": exc.error_code, "message": exc.message, "details": exc.details}
    if isinstance(exc, TimeoutError):
        return {"code": "step_timed_out", "message": "the step did not finish in time"}
    return {"code": "internal_error", "message": f"{type(exc).__name__}: {exc}"}


class PlanRunner:
    """Runs steps one after another with ``execute``; never raises for a step's failure."""

    def __init__(
        self,
        max_attempts: int = 3,
        backoff_s: float = 0.2,
        retryable: tuple[type[BaseException], ...] = RETRYABLE,
    ) -> None:
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.retryable = retryable

    async def run(self, steps: Sequence[PlanStep], execute: Execute) -> PlanReport:
        outcomes: list[StepOutcome] = []
        done: dict[str, StepStatus] = {}
        for step in steps:
            blocked = [d for d in step.depends_on if done.get(d) != "succeeded"]
            if blocked:
                outcome = StepOutcome(
                    step_id=step.id,
                    status="skipped",
                    attempts=0,
                    duration_ms=0.0,
                    error={
                        "code": "dependency_failed",
                        "message": f"skipped: {', '.join(blocked)} did not succeed",
                    },
                )
            else:
                outcome = await self.run_step(step, execute)
            done[step.id] = outcome.status
            outcomes.append(outcome)
        return PlanReport(outcomes=outcomes)

    async def run_step(self, step: PlanStep, execute: Execute) -> StepOutcome:
        attempts = 1 if step.writes else self.max_attempts
        start = time.perf_counter()
        for attempt in range(1, attempts + 1):
            try:
                result = await execute(step)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt < attempts and isinstance(exc, self.retryable):
                    await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
                    continue
                if not isinstance(exc, RiverGenError):
                    log.exception("step %s (%s) failed", step.id, step.tool)
                return StepOutcome(
                    step_id=step.id,
                    status="failed",
                    attempts=attempt,
                    duration_ms=_since(start),
                    error=error_of(exc),
                )
            return StepOutcome(
                step_id=step.id,
                status="succeeded",
                attempts=attempt,
                duration_ms=_since(start),
                result=result,
            )
        raise AssertionError("unreachable")  # pragma: no cover


def _since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 3)
