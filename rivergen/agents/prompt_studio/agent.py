"""The agent loop: reason (a provider step), act (tool calls, each through the authorization
table), observe (the results go back to the provider), repeat; bounded in steps and time.
Reads run at once (retried when safe); writes are only proposed and wait for a confirmation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from rivergen.accounts.principal import RequestContext
from rivergen.agents.prompt_studio.providers import ModelProvider, summary_of
from rivergen.agents.prompt_studio.schemas import ExecutionStatus, PendingCall, StepRecord
from rivergen.agents.prompt_studio.steps import (
    Clarification,
    Conversation,
    FinalAnswer,
    NotUnderstood,
    StepRequest,
    ToolCall,
    ToolCalls,
    Turn,
)
from rivergen.agents.prompt_studio.tools import DatasetArgs, ToolBox, ToolContext, resolve
from rivergen.errors import Forbidden, RiverGenError
from rivergen.services.execution.runner import PlanRunner, PlanStep, error_of
from rivergen.services.planning.catalog import PromptCatalog
from rivergen.settings import PromptSettings

log = logging.getLogger(__name__)

OnTurn = Callable[[Turn], Awaitable[None]]


@dataclass
class AgentRun:
    """What one execution did (the service records it)."""

    status: ExecutionStatus = "running"
    answer: str | None = None
    turns: list[Turn] = field(default_factory=list)
    pending: list[PendingCall] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    provider: str | None = None
    error: dict[str, Any] | None = None
    understood: list[str] = field(default_factory=list)
    clarification: Clarification | None = None


class PromptAgent:
    def __init__(
        self,
        provider: ModelProvider,
        tools: ToolBox,
        settings: PromptSettings,
        runner: PlanRunner | None = None,
    ) -> None:
        self.provider = provider
        self.tools = tools
        self.settings = settings
        self.runner = runner or PlanRunner()

    async def execute(
        self,
        context: RequestContext,
        question: str,
        catalog: PromptCatalog,
        on_turn: OnTurn | None = None,
        conversation: Conversation | None = None,
    ) -> AgentRun:
        """Run the loop for ``context``'s caller (``conversation``: the earlier turns a
        follow-up is read against); never raises for a tool's or a provider's failure (the
        run's status and error say it)."""
        run = AgentRun()
        ctx = ToolContext(context, catalog, self.settings.answer_row_limit)
        try:
            async with asyncio.timeout(self.settings.max_seconds):
                await self._loop(ctx, question, run, on_turn, conversation)
        except TimeoutError:
            run.status, run.error = (
                "failed",
                {
                    "code": "execution_timed_out",
                    "message": f"the execution took longer than {self.settings.max_seconds:g} s",
                },
            )
        except RiverGenError as exc:  # no provider answered
            run.status, run.error = "failed", error_of(exc)
        except Exception as exc:  # a provider outside a chain: recorded, never half-done
            log.exception("prompt execution failed")
            run.status, run.error = "failed", error_of(exc)
        if run.status == "failed" and run.answer is None and run.turns:
            run.answer = summary_of(run.turns)
        return run

    async def _loop(
        self,
        ctx: ToolContext,
        question: str,
        run: AgentRun,
        on_turn: OnTurn | None,
        conversation: Conversation | None,
    ) -> None:
        asked: list[ToolCalls] = []
        for index in range(self.settings.max_turns):
            request = StepRequest(
                question=question,
                catalog=ctx.catalog,
                tools=self.tools.specs(),
                turns=run.turns,
                assistant=asked,
                conversation=conversation,
            )
            start = time.perf_counter()
            step = await self.provider.step(request)
            run.provider = step.provider or getattr(self.provider, "name", None)
            run.steps.append(
                StepRecord(
                    index=index,
                    kind=step.kind,
                    provider=run.provider,
                    fallbacks=step.fallbacks,
                    duration_ms=round((time.perf_counter() - start) * 1000, 3),
                    text=step.text
                    if isinstance(step, ToolCalls | FinalAnswer)
                    else step.question
                    if isinstance(step, Clarification)
                    else step.message,
                )
            )
            if isinstance(step, FinalAnswer):
                run.status, run.answer = "completed", step.text
                return
            if isinstance(step, NotUnderstood):
                run.status, run.answer = "not_understood", step.message
                run.error = {
                    "code": "not_understood",
                    "message": step.message,
                    "details": {"unknown": step.unknown},
                }
                return
            if isinstance(step, Clarification):
                run.status, run.clarification = "needs_clarification", step
                run.answer = (
                    step.question
                    + "\n"
                    + "\n".join(f"{n}. {option}" for n, option in enumerate(step.options, 1))
                )
                return
            asked.append(step)
            run.understood = step.understood or run.understood
            for call in step.calls:
                turn = await self._act(ctx, call, len(run.turns), run)
                run.turns.append(turn)
                if on_turn is not None:
                    await on_turn(turn)
            failed_sql = sum(1 for t in run.turns if t.tool == "run_sql" and t.status == "failed")
            if failed_sql > self.settings.max_sql_corrections:
                run.status, run.answer = "failed", summary_of(run.turns)
                run.error = {
                    "code": "sql_corrections_exhausted",
                    "message": f"the SQL failed {failed_sql} times; "
                    f"{self.settings.max_sql_corrections} corrections are allowed",
                }
                return
            if run.pending:
                run.status = "awaiting_confirmation"
                run.answer = summary_of(run.turns)
                return
        run.status = "failed"
        run.error = {
            "code": "turn_limit_reached",
            "message": f"no answer after {self.settings.max_turns} steps",
        }

    async def _act(self, ctx: ToolContext, call: ToolCall, index: int, run: AgentRun) -> Turn:
        base = {
            "index": index,
            "call_id": call.id,
            "tool": call.tool,
            "arguments": call.arguments,
            "provider": run.provider,
        }
        start = time.perf_counter()
        try:
            tool, args, access = self.tools.check(ctx.request, call)
            if tool.writes:
                arguments = dict(call.arguments)
                if isinstance(args, DatasetArgs):  # pin the dataset the person confirms
                    arguments["dataset"] = str(resolve(ctx.catalog, args.dataset).dataset_id)
                summary = tool.describe(ctx, args) if tool.describe else f"{tool.name}"
        except RiverGenError as exc:
            status = "refused" if isinstance(exc, Forbidden) else "failed"
            return Turn(
                **base,
                status=status,
                summary=exc.message,
                error=error_of(exc),
                duration_ms=_ms(start),
                attempts=0,
            )
        if tool.writes:
            run.pending.append(
                PendingCall(
                    call_id=call.id,
                    tool=tool.name,
                    arguments=arguments,
                    needs=access,
                    summary=summary,
                    provider=run.provider,
                )
            )
            return Turn(
                **{**base, "arguments": arguments},
                status="pending_confirmation",
                summary=summary,
                duration_ms=_ms(start),
                attempts=0,
            )
        return await self._run(ctx, call, base, writes=False)

    async def _run(
        self, ctx: ToolContext, call: ToolCall, base: dict[str, Any], *, writes: bool
    ) -> Turn:
        async def execute(step: PlanStep) -> Any:
            return await self.tools.run(ctx, call)

        outcome = await self.runner.run_step(
            PlanStep(id=call.id, tool=call.tool, arguments=call.arguments, writes=writes),
            execute,
        )
        if outcome.status == "succeeded":
            result = outcome.result
            return Turn(
                **base,
                status="ok",
                summary=result.summary,
                result=result.result,
                duration_ms=outcome.duration_ms,
                attempts=outcome.attempts,
            )
        error = outcome.error or {}
        status = "refused" if error.get("code") == "tool_forbidden" else "failed"
        return Turn(
            **base,
            status=status,
            summary=str(error.get("message", "failed")),
            error=error,
            duration_ms=outcome.duration_ms,
            attempts=outcome.attempts,
        )

    def refusals(self, context: RequestContext, pending: list[PendingCall]) -> list[PendingCall]:
        """The pending calls ``context``'s caller may not confirm."""
        refused = []
        for call in pending:
            try:
                self.tools.check(
                    context, ToolCall(id=call.call_id, tool=call.tool, arguments=call.arguments)
                )
            except Forbidden:
                refused.append(call)
            except RiverGenError:
                pass  # not a question of rights: it fails (and is recorded) when run
        return refused

    async def confirm(
        self,
        context: RequestContext,
        catalog: PromptCatalog,
        pending: list[PendingCall],
        first_index: int,
    ) -> list[Turn]:
        """Run the confirmed writes (each once, never retried), in order."""
        ctx = ToolContext(context, catalog, self.settings.answer_row_limit)
        turns = []
        for offset, call in enumerate(pending):
            base = {
                "index": first_index + offset,
                "call_id": call.call_id,
                "tool": call.tool,
                "arguments": call.arguments,
                "provider": call.provider,
                "confirmed_by": context.actor,
            }
            turns.append(
                await self._run(
                    ctx,
                    ToolCall(id=call.call_id, tool=call.tool, arguments=call.arguments),
                    base,
                    writes=True,
                )
            )
        return turns


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
