"""Execution Support's plan runner: reads are retried after a transient error, writes never,
and a plan that fails half way reports each step."""

from __future__ import annotations

from collections import Counter

from rivergen.errors import DependencyUnavailable, NotFound
from rivergen.services.execution.runner import PlanRunner, PlanStep


async def test_a_read_is_retried_after_a_transient_error_a_write_is_not() -> None:
    calls: Counter[str] = Counter()

    async def flaky(step: PlanStep) -> str:
        calls[step.id] += 1
        if calls[step.id] < 3:
            raise DependencyUnavailable("the engine did not answer")
        return f"{step.id} done"

    runner = PlanRunner(max_attempts=3, backoff_s=0.0)
    report = await runner.run(
        [
            PlanStep(id="read", tool="run_sql"),
            PlanStep(id="write", tool="delete_dataset", writes=True),
        ],
        flaky,
    )

    read, write = report.outcomes
    assert (read.status, read.attempts, read.result) == ("succeeded", 3, "read done")
    assert (write.status, write.attempts) == ("failed", 1)
    assert write.error is not None and write.error["code"] == "dependency_unavailable"
    assert calls == {"read": 3, "write": 1}
    assert report.partial and not report.succeeded


async def test_a_refusal_is_not_retried_and_what_depends_on_it_is_skipped() -> None:
    calls: Counter[str] = Counter()

    async def execute(step: PlanStep) -> str:
        calls[step.id] += 1
        if step.id == "describe":
            raise NotFound("no dataset 'churn'", code="dataset_not_found")
        return "ok"

    report = await PlanRunner(backoff_s=0.0).run(
        [
            PlanStep(id="describe", tool="describe_dataset"),
            PlanStep(id="profile", tool="profile_dataset", depends_on=["describe"]),
            PlanStep(id="search", tool="search_catalog"),
        ],
        execute,
    )

    assert [o.status for o in report.outcomes] == ["failed", "skipped", "succeeded"]
    assert report.outcome("describe").error == {
        "code": "dataset_not_found",
        "message": "no dataset 'churn'",
        "details": {},
    }
    assert report.outcome("profile").error is not None
    assert report.outcome("profile").error["code"] == "dependency_failed"
    assert calls == {"describe": 1, "search": 1}
