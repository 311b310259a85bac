"""The model provider port, the built-in provider and the fallback chain.

A provider is asked one step at a time
(:class:`~rivergen.agents.prompt_studio.steps.StepRequest`: the question, the catalog, the tools
and the turns so far) and answers tool calls, a final answer, or that it did not understand. It
never runs a tool itself: the agent does, through the authorization table.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from rivergen.agents.prompt_studio.steps import (
    Clarification,
    Conversation,
    FinalAnswer,
    NotUnderstood,
    ProviderFailure,
    Step,
    StepRequest,
    ToolCall,
    ToolCalls,
    Turn,
)
from rivergen.errors import DependencyUnavailable
from rivergen.services.planning import intents
from rivergen.services.planning.catalog import PromptCatalog
from rivergen.services.planning.followup import Clarify, ClarifyOption, Why, read_followup

log = logging.getLogger(__name__)


class ModelProvider(Protocol):
    @property
    def name(self) -> str: ...

    async def step(self, request: StepRequest) -> Step:
        """The next step; raises on an error (the chain then asks the next provider)."""
        ...


class ProviderError(DependencyUnavailable):
    code = "model_provider_unavailable"


_SIMPLE: dict[type[Any], tuple[str, Callable[[Any], dict[str, Any]]]] = {
    intents.DescribeIntent: ("describe_dataset", lambda i: {"dataset": i.table}),
    intents.ProfileIntent: ("profile_dataset", lambda i: {"dataset": i.table}),
    intents.FindDatasetsIntent: ("search_catalog", lambda i: {"query": " ".join(i.terms)}),
    intents.StartJobIntent: (
        "start_job",
        lambda i: (
            {"kind": i.job_kind, "params": i.params}
            | ({"dataset": i.table} if i.table is not None else {})
        ),
    ),
    intents.CreatePolicyIntent: ("create_policy", lambda i: {"policy": i.policy}),
    intents.DeleteDatasetIntent: ("delete_dataset", lambda i: {"dataset": i.table}),
}


def calls_of(intent: Any) -> list[ToolCall] | NotUnderstood:
    """The tool calls that carry out one intent of the built-in translator."""
    if isinstance(intent, intents.NotUnderstood):
        return NotUnderstood(message=intent.message, unknown=intent.unknown)
    if isinstance(intent, intents.QueryIntent):
        calls = [ToolCall(tool="run_sql", arguments={"sql": intent.sql})]
        if intent.save_as:
            calls.append(
                ToolCall(tool="save_result", arguments={"sql": intent.sql, "name": intent.save_as})
            )
        return calls
    simple = _SIMPLE.get(type(intent))
    if simple is None:
        raise TypeError(f"not an intent: {intent!r}")
    tool, arguments = simple
    return [ToolCall(tool=tool, arguments=arguments(intent))]


def summary_of(turns: Sequence[Turn]) -> str:
    """A final answer made of what each tool call did."""
    lines = []
    for turn in turns:
        if turn.status == "ok":
            lines.append(turn.summary)
        elif turn.status == "pending_confirmation":
            lines.append(f"Waiting for a confirmation: {turn.summary}")
        else:
            lines.append(f"Not done ({turn.tool}): {turn.summary}")
    return "\n".join(lines) or "Nothing was done."


class Planner(Protocol):
    """The Planning service, as the built-in provider uses it."""

    async def translate(self, question: str, catalog: PromptCatalog) -> Any: ...


class BuiltinProvider:
    """Needs no model: the Planning service's translator turns the question into one intent,
    the intent into tool calls; once they ran, their summaries are the answer."""

    name = "builtin"

    def __init__(self, planner: Planner | None = None) -> None:
        self._planner = planner

    async def step(self, request: StepRequest) -> Step:
        if request.turns:
            return FinalAnswer(text=summary_of(request.turns))
        intent: Any = None
        if request.conversation is not None:
            intent = followup_of(request.question, request.conversation, request.catalog)
            if isinstance(intent, Clarify):
                return Clarification(
                    question=intent.question,
                    options=[o.label for o in intent.options],
                    readings=[o.intent for o in intent.options],
                )
            if isinstance(intent, Why):
                return FinalAnswer(text=why_text(request.conversation))
        if intent is None and self._planner is not None:  # the Planning service (by handle)
            intent = await self._planner.translate(request.question, request.catalog)
        elif intent is None:
            intent = _translator()(request.question, request.catalog)
        calls = calls_of(intent)
        if isinstance(calls, NotUnderstood):
            return calls
        understood = list(getattr(intent, "understood", []))
        return ToolCalls(calls=calls, text="; ".join(understood), understood=understood)


def followup_of(question: str, conversation: Conversation, catalog: PromptCatalog) -> Any:
    """The follow-up ``question`` is of the conversation's last reading (or the answer to its
    clarifying question); None when it is a question of its own."""
    last = conversation.last_query()
    asked = conversation.pending_clarification()
    clarify = None
    if asked is not None and len(asked.readings) == len(asked.options) >= 2:
        clarify = Clarify(
            question=asked.question,
            options=[
                ClarifyOption(label=label, intent=reading)
                for label, reading in zip(asked.options, asked.readings, strict=True)
            ],
        )
    return read_followup(question, last[1] if last else None, catalog, clarify)


def why_text(conversation: Conversation) -> str:
    """How the conversation's last answer was read and computed."""
    last = conversation.last_query()
    if last is None:
        return "There is no earlier answer in this conversation to explain."
    turn, _ = last
    lines = [f"The answer to “{turn.question}” was read as:"]
    lines += [f"- {u}" for u in turn.understood] or ["- (the provider did not say)"]
    lines.append(f"It was computed with this SQL over {', '.join(turn.tables) or 'the datasets'}:")
    lines.append(turn.sql or "")
    if turn.layer:
        lines.append("Semantic layer entries used:")
        lines += [f"- {entry}" for entry in turn.layer]
    else:
        lines.append("No semantic layer entry was used.")
    lines.append("The workspace's policies applied to it as they apply to you.")
    return "\n".join(lines)


class ReplayProvider:
    """Asks for recorded tool calls again (a rerun: the same calls, the same SQL, for another
    caller); once they ran, their summaries are the answer. Never says anything else."""

    name = "replay"

    def __init__(self, calls: Sequence[ToolCall], text: str = "") -> None:
        self._calls = [ToolCall(tool=c.tool, arguments=c.arguments) for c in calls]
        self._text = text

    async def step(self, request: StepRequest) -> Step:
        if request.turns or not self._calls:
            return FinalAnswer(text=summary_of(request.turns))
        return ToolCalls(calls=self._calls, text=self._text)


def _translator() -> Callable[[str, PromptCatalog], Any]:
    # Imported when first used: the Planning service's translator is a large module of its own.
    module = importlib.import_module("rivergen.services.planning.builtin")
    translate: Callable[[str, PromptCatalog], Any] = module.translate
    return translate


class FallbackChain:
    """Asks each provider in turn: on an error, or no answer within ``timeout_s`` (or the
    provider's own ``timeout_s``, if smaller), the next one; the built-in provider last. The
    step says which provider answered and which failed before it."""

    def __init__(
        self,
        providers: Sequence[ModelProvider],
        timeout_s: float,
        *,
        fallback: ModelProvider | None = None,
    ) -> None:
        self.providers: list[ModelProvider] = [*providers, fallback or BuiltinProvider()]
        self.timeout_s = timeout_s

    @property
    def name(self) -> str:
        return " > ".join(p.name for p in self.providers)

    async def step(self, request: StepRequest) -> Step:
        failures: list[ProviderFailure] = []
        for provider in self.providers:
            timeout = min(self.timeout_s, getattr(provider, "timeout_s", self.timeout_s))
            try:
                async with asyncio.timeout(timeout):
                    step = await provider.step(request)
            except TimeoutError:
                failures.append(
                    ProviderFailure(provider=provider.name, error=f"no answer in {timeout:g} s")
                )
                continue
            except Exception as exc:  # any provider's failure: the next one answers
                log.warning("model provider %s failed: %s", provider.name, exc)
                failures.append(ProviderFailure(provider=provider.name, error=_reason(exc)))
                continue
            return step.model_copy(update={"provider": provider.name, "fallbacks": failures})
        raise ProviderError(
            "no model provider answered: "
            + "; ".join(f"{f.provider}: {f.error}" for f in failures),
            details={"failures": [f.model_dump() for f in failures]},
        )


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}"[:500]
