"""What a model provider is asked (:class:`StepRequest`) and what it answers (:data:`Step`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from rivergen.services.planning.catalog import PromptCatalog
from rivergen.services.planning.intents import QueryIntent


class ToolSpec(BaseModel):
    """A tool as a provider sees it."""

    name: str
    description: str
    parameters: dict[str, Any] = Field(description="JSON schema of the arguments.")


class ToolCall(BaseModel):
    id: str = Field(default_factory=lambda: f"call_{uuid.uuid4().hex[:16]}")
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)


TurnStatus = Literal["ok", "refused", "failed", "pending_confirmation"]


class Turn(BaseModel):
    """One tool call of an execution and what came of it."""

    index: int
    call_id: str
    tool: str
    arguments: dict[str, Any]
    status: TurnStatus
    summary: str = Field(description="What the tool did, in a sentence (what a provider reads).")
    result: dict[str, Any] = Field(
        default_factory=dict,
        description="The tool's result: rows of an answer, and metadata (datasets, filters, "
        "policies applied, sql, row_count) the explanation reads.",
    )
    error: dict[str, Any] | None = Field(None, description="{code, message} of a refusal/failure.")
    duration_ms: float = 0.0
    attempts: int = 1
    provider: str | None = Field(None, description="Which provider asked for the call.")
    confirmed_by: str | None = None


class ProviderFailure(BaseModel):
    provider: str
    error: str


class _Step(BaseModel):
    provider: str | None = Field(None, description="Which provider answered (set by the chain).")
    fallbacks: list[ProviderFailure] = Field(
        default_factory=list, description="Providers that failed or timed out before it."
    )


class ToolCalls(_Step):
    kind: Literal["tool_calls"] = "tool_calls"
    calls: list[ToolCall] = Field(min_length=1)
    text: str = Field("", description="What the provider said along with the calls.")
    understood: list[str] = Field(
        default_factory=list, description="How each phrase of the question was read."
    )


class FinalAnswer(_Step):
    kind: Literal["final_answer"] = "final_answer"
    text: str


class NotUnderstood(_Step):
    kind: Literal["not_understood"] = "not_understood"
    message: str
    unknown: list[str] = Field(default_factory=list)


class Clarification(_Step):
    """The question fits several readings: which one? The next turn of the conversation
    answers it."""

    kind: Literal["clarification"] = "clarification"
    question: str
    options: list[str] = Field(min_length=2, description="The readings offered, in order.")
    readings: list[QueryIntent] = Field(
        default_factory=list,
        description="The reading each option stands for, when the provider wrote it (the "
        "built-in one); a model reads the answer in the conversation instead.",
    )


Step = Annotated[
    ToolCalls | FinalAnswer | NotUnderstood | Clarification, Field(discriminator="kind")
]


class PriorTurn(BaseModel):
    """An earlier execution of the conversation, as its reader may see it."""

    question: str
    status: str
    answer: str | None = None
    sql: str | None = Field(None, description="The SQL of its answer, if it ran one.")
    tables: list[str] = Field(default_factory=list)
    understood: list[str] = Field(default_factory=list)
    layer: list[str] = Field(
        default_factory=list, description="Semantic layer entries its answer used."
    )
    clarification: Clarification | None = Field(
        None, description="The clarifying question it ended with."
    )


class Conversation(BaseModel):
    """What a follow-up is read against: the conversation's earlier turns, oldest first."""

    id: str
    turns: list[PriorTurn] = Field(default_factory=list)

    def last_query(self) -> tuple[PriorTurn, QueryIntent] | None:
        """The latest turn that ran a query, and its reading."""
        for turn in reversed(self.turns):
            if turn.sql:
                return turn, QueryIntent(
                    sql=turn.sql, tables=turn.tables, understood=turn.understood
                )
        return None

    def pending_clarification(self) -> Clarification | None:
        """The clarifying question the last turn asked, if it asked one."""
        return self.turns[-1].clarification if self.turns else None


class StepRequest(BaseModel):
    question: str
    catalog: PromptCatalog
    tools: list[ToolSpec]
    turns: list[Turn] = Field(default_factory=list, description="Tool calls so far, in order.")
    assistant: list[ToolCalls] = Field(
        default_factory=list,
        description="The provider steps that asked for those calls, in order (chat providers "
        "replay them as assistant messages).",
    )
    conversation: Conversation | None = Field(
        None, description="The earlier turns, when the question follows up a conversation."
    )
