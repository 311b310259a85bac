"""A plain-language account of an execution, from its turns' result metadata: the datasets,
the filters, the policies applied, the SQL, the row count, and what was not understood or not
done."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rivergen.services.language.schemas import Explanation

if TYPE_CHECKING:
    from rivergen.agents.prompt_studio.schemas import ExecutionView


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _names(result: dict[str, Any]) -> list[str]:
    return [str(d.get("name") or d.get("dataset_id")) for d in result.get("datasets", [])]


def _policy_names(result: dict[str, Any]) -> list[str]:
    return [f"{p.get('name')} ({p.get('type')})" for p in result.get("policies", [])]


def _not_done(execution: ExecutionView) -> list[str]:
    missing = [
        f"{t.tool}: {t.error.get('message') if t.error else t.summary}"
        for t in execution.turns
        if t.status in ("refused", "failed")
    ]
    error = execution.error or {}
    if execution.status == "not_understood":
        missing.insert(0, str(error.get("message", "not understood")))
        missing.extend(f"the word {w!r}" for w in error.get("details", {}).get("unknown", []))
    elif execution.status == "failed" and error.get("message"):
        missing.append(str(error["message"]))
    return missing


def explain(execution: ExecutionView) -> Explanation:
    done = [t for t in execution.turns if t.status == "ok"]
    counts = [
        t.result["row_count"] for t in done if t.tool == "run_sql" and "row_count" in t.result
    ]
    explanation = Explanation(
        text="",
        datasets=_unique(n for t in execution.turns for n in _names(t.result)),
        filters=_unique(f for t in done for f in t.result.get("filters", [])),
        policies=_unique(p for t in done for p in _policy_names(t.result)),
        masked_columns=_unique(c for t in done for c in t.result.get("masked_columns", [])),
        sql=_unique(str(t.result["sql"]) for t in done if t.result.get("sql")),
        row_count=counts[-1] if counts else None,
        not_understood=_not_done(execution),
    )
    return explanation.model_copy(update={"text": _text(execution, explanation)})


def _text(execution: ExecutionView, e: Explanation) -> str:
    lines = [f"You asked: {execution.question}"]
    if e.datasets:
        lines.append(f"Datasets used: {', '.join(e.datasets)}.")
    lines += [f"- {_turn_line(t.tool, t.status, t.summary)}" for t in execution.turns]
    if e.filters:
        lines.append(f"Filters applied: {'; '.join(e.filters)}.")
    if e.policies:
        lines.append(f"Policies applied: {', '.join(e.policies)}.")
    elif e.sql:
        lines.append("No policy changed this answer.")
    if e.masked_columns:
        lines.append(f"Masked columns: {', '.join(e.masked_columns)}.")
    lines += [f"SQL: {statement}" for statement in e.sql]
    if e.row_count is not None:
        lines.append(f"The answer has {e.row_count} row(s).")
    if execution.pending:
        waiting = "; ".join(p.summary for p in execution.pending)
        lines.append(f"Waiting for a confirmation to {waiting}.")
    if e.not_understood:
        lines.append("Not understood or not done: " + "; ".join(e.not_understood) + ".")
    return "\n".join(lines)


def _turn_line(tool: str, status: str, summary: str) -> str:
    if status == "ok":
        return summary
    if status == "pending_confirmation":
        return f"Proposed, waiting for a confirmation: {summary}"
    return f"{tool} was {status}: {summary}"
