"""What Prompt Studio's API takes and gives."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from rivergen.acl import Access
from rivergen.agents.prompt_studio.chart import Chart
from rivergen.agents.prompt_studio.steps import Clarification, ProviderFailure, Turn
from rivergen.services.language.schemas import Explanation
from rivergen.services.planning.usage import LayerUse

ExecutionStatus = Literal[
    "running",
    "completed",
    "not_understood",
    "needs_clarification",
    "awaiting_confirmation",
    "confirming",
    "failed",
]
WithheldReason = Literal["recomputed_under_other_policies", "governance_not_recorded"]
Question = Field(min_length=1, max_length=4000, description="The question, in plain language.")


class ExecuteRequest(BaseModel):
    question: str = Question
    save: bool = Field(False, description="Also keep the question as a saved prompt.")
    conversation_id: UUID | None = Field(
        None,
        description="Continue this conversation: the question may follow up the previous "
        "answer (`and by country?`, `only 1997`, `show the top 5 instead`, `what about "
        "France?`, `why?`) or answer its clarifying question. Unset: a new conversation "
        "begins (its id comes back in the execution).",
    )


class PendingCall(BaseModel):
    """A write the execution waits to have confirmed."""

    call_id: str
    tool: str
    arguments: dict[str, Any]
    needs: Access = Field(description="The least role that may confirm it.")
    summary: str = Field(description="What it will do.")
    provider: str | None = None


class StepRecord(BaseModel):
    """One provider step: who answered, who failed before it, what it was."""

    index: int
    kind: str
    provider: str | None
    fallbacks: list[ProviderFailure] = Field(default_factory=list)
    duration_ms: float
    text: str = ""


WRITE_TOOLS: frozenset[str] = frozenset({"delete_dataset", "save_result", "create_policy"})
"""Tools that change something: never run by the loop, only once confirmed."""


class PlannedCall(BaseModel):
    """One step of an execution's plan: a tool call, what it touches, and where it stands."""

    tool: str
    arguments: dict[str, Any]
    effect: Literal["read", "write"]
    needs: str | None = Field(description="The least role that may run it (the tool's route).")
    datasets: list[str] = Field(default_factory=list, description="Datasets it reads or writes.")
    status: str = Field(description="`ok`, `refused`, `failed` or `pending_confirmation`.")


class Plan(BaseModel):
    """What the prompt became: its steps in order, and the datasets it reads and writes."""

    steps: list[PlannedCall] = Field(default_factory=list)
    reads: list[str] = Field(default_factory=list)
    writes: list[str] = Field(default_factory=list)


class AnswerTable(BaseModel):
    """The rows of the answer (of the execution's last successful query)."""

    columns: list[str]
    rows: list[dict[str, Any]]
    row_count: int | None = Field(
        description="Rows in the whole answer (`rows` may hold fewer); null when withheld."
    )
    truncated: bool = False
    sql: str
    types: list[str] = Field(
        default_factory=list, description="Arrow type of each column (empty: not recorded)."
    )
    chart: Chart = Field(
        default_factory=lambda: Chart(kind="table"),
        description="The suggested chart: `number` for a single number, `line` for a date or "
        "time and a number, `bar` for one category and a number, else `table`.",
    )


class Reading(BaseModel):
    """How the question was read: what each phrase meant, the SQL, the semantic layer
    entries used, and the clarifying question asked, if one was."""

    understood: list[str] = Field(default_factory=list)
    sql: str | None = None
    tables: list[str] = Field(default_factory=list)
    layer: LayerUse = Field(default_factory=LayerUse)
    clarification: Clarification | None = None


class ExecutionView(BaseModel):
    id: UUID
    question: str
    status: ExecutionStatus
    conversation_id: UUID | None = Field(None, description="The conversation it is a turn of.")
    answer: str | None = None
    table: AnswerTable | None = Field(
        None, description="The answer's rows when the execution ran a query."
    )
    plan: Plan = Field(default_factory=Plan, description="The typed plan the prompt became.")
    reading: Reading | None = Field(
        None, description="How this was read: phrases, SQL, semantic layer entries used."
    )
    explanation: Explanation | None = None
    turns: list[Turn] = Field(default_factory=list, description="Every tool call, in order.")
    pending: list[PendingCall] = Field(
        default_factory=list, description="Writes waiting for `POST .../confirm`."
    )
    steps: list[StepRecord] = Field(default_factory=list, description="Every provider step.")
    provider: str | None = Field(None, description="The provider of the last step.")
    error: dict[str, Any] | None = None
    created_by: str
    created_at: datetime
    finished_at: datetime | None = None
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None
    saved_prompt_id: UUID | None = Field(None, description="Set when `save` kept the question.")
    rows_withheld: bool = Field(
        False,
        description="The execution was computed under other policies than the reader's: its "
        "rows, and everything said about them (answer, summaries, counts, provider texts), are "
        "left out; question, plan, SQL, columns and status stay. `POST .../rerun` computes it "
        "under the reader's own policies.",
    )
    withheld_reason: WithheldReason | None = Field(
        None,
        description="`recomputed_under_other_policies`: a dataset it read is governed "
        "differently for the reader now; `governance_not_recorded`: kept before the platform "
        "recorded what executions were computed under.",
    )
    rerun_of: UUID | None = Field(None, description="The execution this one ran again.")


class ExecutionPage(BaseModel):
    items: list[ExecutionView]
    next_cursor: str | None = None


class SavedPromptCreate(BaseModel):
    question: str = Question
    name: str | None = Field(
        None, min_length=1, max_length=200, description="Default: the question's first words."
    )


class SavedPrompt(BaseModel):
    id: UUID
    name: str
    question: str
    created_by: str
    created_at: datetime


class SavedPromptPage(BaseModel):
    items: list[SavedPrompt]
    next_cursor: str | None = None


class ConversationView(BaseModel):
    """A conversation: its first question as title, and its latest turn as the reader may
    see it."""

    id: UUID
    title: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    turn_count: int
    last: ExecutionView | None = Field(None, description="The latest turn.")


class ConversationPage(BaseModel):
    items: list[ConversationView]
    next_cursor: str | None = None


class ConversationDetail(ConversationView):
    turns: list[ExecutionView] = Field(
        default_factory=list, description="Every turn, oldest first, as the reader may see it."
    )
