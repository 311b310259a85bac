"""What an execution was computed under, and what of it another reader is shown.

An execution keeps rows (and what is said about them: the answer, the turns' summaries, counts,
a model's texts) computed under its caller's policies. It records, for each dataset whose data
its results hold, the fingerprint of what those policies made of it
(:func:`~rivergen.services.governance.fingerprint.fingerprint`). A reader is shown all of it
only when its own policies make the same of every one of them now (the creator, or anyone
governed alike); otherwise the view keeps the question, plan, SQL, columns and status, leaves
out every value (:func:`withhold`) and says so (``rows_withheld``), and ``POST .../rerun``
computes it under the reader's own policies.

The catalog's value hints (:mod:`rivergen.agents.prompt_studio.catalog`) need no record: a
model provider is not shown them (:func:`rivergen.agents.prompt_studio.openai.catalog_text`),
and the built-in one says
only the tools' summaries and the question's own words (and the SQL, shown to every reader).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from rivergen.agents.prompt_studio.providers import summary_of
from rivergen.agents.prompt_studio.schemas import ExecutionView, WithheldReason
from rivergen.agents.prompt_studio.steps import Turn
from rivergen.services.governance.fingerprint import fingerprint
from rivergen.services.governance.schemas import Governed
from rivergen.services.language.explain import explain

RECOMPUTED: WithheldReason = "recomputed_under_other_policies"
NOT_RECORDED: WithheldReason = "governance_not_recorded"

DATA_FREE_TOOLS: frozenset[str] = frozenset(
    {"search_catalog", "start_job", "delete_dataset", "save_result", "create_policy"}
)
"""Tools whose results and summaries hold no data of a dataset (names, ids, jobs, policies).
Every other tool's result is taken to hold data of the datasets it names."""

SHOWN_RESULT_KEYS: frozenset[str] = frozenset(
    {"datasets", "sql", "columns", "filters", "policies", "masked_columns", "description", "tags"}
)
"""What of a data tool's result a withheld view keeps: what was read and how, no values and
no counts."""

UNNAMED = "*"
"""The record's key for data of datasets a result does not name: never the same for anyone."""
CHANGED = "changed"
"""A fingerprint that changed while the execution ran: never the same as anyone's."""


class GovernanceRecord(BaseModel):
    """What an execution was computed under (``prompt_executions.governance``)."""

    datasets: dict[str, str] = Field(
        default_factory=dict, description="Dataset id -> fingerprint, for each dataset read."
    )


def datasets_read(turns: Iterable[Turn]) -> tuple[list[UUID], bool]:
    """The datasets whose data the turns' results hold, and whether a result holds data of a
    dataset it does not name."""
    read: list[UUID] = []
    unnamed = False
    for turn in turns:
        if turn.tool in DATA_FREE_TOOLS or turn.status != "ok":
            continue
        ids = []
        for item in turn.result.get("datasets", []):
            try:
                ids.append(UUID(str(item.get("dataset_id"))))
            except (AttributeError, ValueError):
                unnamed = True
        unnamed |= not ids
        read.extend(ids)
    return list(dict.fromkeys(read)), unnamed


def record_of(
    read: Sequence[UUID],
    unnamed: bool,
    before: Mapping[UUID, Governed],
    now: Mapping[UUID, Governed],
) -> GovernanceRecord:
    """The record of an execution that read ``read`` under ``now`` (its caller's governance
    after the run), ``before`` being its caller's governance when it started: a dataset
    governed otherwise then than now is recorded as changed (its rows may be of either)."""
    datasets = {}
    for dataset in read:
        mark = fingerprint(now[dataset])
        if dataset in before and fingerprint(before[dataset]) != mark:
            mark = CHANGED
        datasets[str(dataset)] = mark
    if unnamed:
        datasets[UNNAMED] = CHANGED
    return GovernanceRecord(datasets=datasets)


def parse_record(value: Any) -> GovernanceRecord | None:
    if value is None:
        return None
    return GovernanceRecord.model_validate(json.loads(value) if isinstance(value, str) else value)


def record_datasets(record: GovernanceRecord | None) -> list[UUID]:
    """Every dataset a reader's governance is compared on."""
    if record is None:
        return []
    found = []
    for key in record.datasets:
        try:
            found.append(UUID(key))
        except ValueError:
            continue
    return found


def _has_data(view: ExecutionView) -> bool:
    return bool(view.turns or view.answer or view.steps or view.explanation)


def withheld_reason(
    view: ExecutionView,
    record: GovernanceRecord | None,
    reader: Mapping[UUID, Governed],
    existing: set[UUID],
) -> WithheldReason | None:
    """Why ``view``'s data may not be shown to the reader whose governance of the record's
    (``existing``) datasets is ``reader``; None when it may."""
    if record is None:
        return NOT_RECORDED if _has_data(view) else None
    for key, mark in record.datasets.items():
        try:
            dataset = UUID(key)
        except ValueError:
            return RECOMPUTED
        # A dataset deleted since is governed by nothing: its data is shown to nobody.
        if dataset not in existing or fingerprint(reader[dataset]) != mark:
            return RECOMPUTED
    return None


_DONE = {
    "run_sql": "Ran the query.",
    "describe_dataset": "Described the dataset.",
    "profile_dataset": "Profiled the dataset.",
}


def public_summary(turn: Turn) -> str:
    """What a turn did, without anything of its result (no values, no counts): what anyone in
    the workspace may be told."""
    if turn.tool in DATA_FREE_TOOLS:
        return turn.summary
    if turn.status == "ok":
        return _DONE.get(turn.tool, f"Ran {turn.tool}.")
    if turn.status == "pending_confirmation":
        return f"{turn.tool} waits for a confirmation."
    code = (turn.error or {}).get("code")
    return f"{turn.tool} was {turn.status}" + (f" ({code})." if code else ".")


WITHHELD_TEXT = (
    "The answer is withheld: it was computed under other policies than yours. Run it again "
    "(POST /api/v1/prompts/executions/{id}/rerun) to get it under your own."
)


def _turn(turn: Turn) -> Turn:
    if turn.tool in DATA_FREE_TOOLS:
        return turn
    error = turn.error
    if error is not None:
        error = {"code": error.get("code"), "message": public_summary(turn)}
    return turn.model_copy(
        update={
            "summary": public_summary(turn),
            "error": error,
            "result": {k: v for k, v in turn.result.items() if k in SHOWN_RESULT_KEYS},
        }
    )


def withhold(view: ExecutionView, reason: WithheldReason) -> ExecutionView:
    """``view`` without its data: no rows, counts, answer or provider texts; the question,
    plan, SQL, columns, datasets, filters and policies applied, and status stay."""
    turns = [_turn(t) for t in view.turns]
    table = view.table
    if table is not None:
        table = table.model_copy(update={"rows": [], "row_count": None, "truncated": False})
    error = view.error
    if error is not None:
        error = {"code": error.get("code"), "message": WITHHELD_TEXT.format(id=view.id)}
    draft = view.model_copy(
        update={
            "turns": turns,
            "table": table,
            "error": error,
            "answer": summary_of(turns) if turns else None,
            "steps": [s.model_copy(update={"text": ""}) for s in view.steps],
            "rows_withheld": True,
            "withheld_reason": reason,
        }
    )
    explanation = None
    if view.explanation is not None:
        explanation = explain(draft)
        text = f"{explanation.text}\n{WITHHELD_TEXT.format(id=view.id)}"
        explanation = explanation.model_copy(update={"text": text})
    return draft.model_copy(update={"explanation": explanation})
