"""Prompt Studio's service: runs an execution, records it (every turn as it happens, with a
``prompt.progress`` event to the workspace's room, and the governance it was computed under),
explains it, and runs its writes once a person allowed to do them confirms. Each reader is shown
an execution's data only if its own policies make the same of what it read
(:mod:`rivergen.agents.prompt_studio.history`); anyone may run it again under their own."""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal, Protocol
from uuid import UUID

from rivergen.accounts.principal import RequestContext
from rivergen.acl import tool_access
from rivergen.agents.prompt_studio import history, store
from rivergen.agents.prompt_studio.agent import AgentRun, PromptAgent
from rivergen.agents.prompt_studio.catalog import governed_catalog, load_catalog
from rivergen.agents.prompt_studio.chart import suggest_chart
from rivergen.agents.prompt_studio.providers import ReplayProvider, summary_of
from rivergen.agents.prompt_studio.schemas import (
    WRITE_TOOLS,
    AnswerTable,
    ConversationDetail,
    ConversationPage,
    ConversationView,
    ExecuteRequest,
    ExecutionPage,
    ExecutionView,
    PendingCall,
    Plan,
    PlannedCall,
    Reading,
    SavedPrompt,
    SavedPromptCreate,
    SavedPromptPage,
    StepRecord,
)
from rivergen.agents.prompt_studio.steps import Conversation, PriorTurn, ToolCall, Turn
from rivergen.db import Database
from rivergen.errors import Conflict, Forbidden, NotFound
from rivergen.events import Event, Topic, add_to_outbox
from rivergen.pagination import decode_cursor, encode_cursor
from rivergen.services.execution.runner import error_of
from rivergen.services.governance import GovernanceService, Governed
from rivergen.services.language import Explanation, ExplanationService
from rivergen.services.planning.catalog import PromptCatalog
from rivergen.services.planning.usage import LayerUse, layer_used

NewOrNone = Literal["new", "none"]
PROMPT_PROGRESS = "prompt.progress"
PROMPT_COMPLETED = "prompt.completed"


def execution_not_found(execution: UUID) -> NotFound:
    return NotFound(f"prompt execution {execution} not found", code="execution_not_found")


def conversation_not_found(conversation: UUID) -> NotFound:
    return NotFound(f"conversation {conversation} not found", code="conversation_not_found")


class Explainer(Protocol):
    """Language & Explanation, as the agent uses it (on Serve: by handle)."""

    async def explain(self, execution: ExecutionView) -> Explanation: ...


class PromptService:
    def __init__(
        self,
        db: Database,
        agent: PromptAgent,
        governance: GovernanceService | None = None,
        explainer: Explainer | None = None,
    ) -> None:
        self._db = db
        self.agent = agent
        self._governance = governance
        self._explainer: Explainer = explainer or ExplanationService()

    async def execute(self, context: RequestContext, request: ExecuteRequest) -> ExecutionView:
        """Run the question now (bounded by the agent's settings) and return the execution:
        a turn of ``request.conversation_id`` (read against its earlier turns; 404
        ``conversation_not_found``, another workspace's too), else of a new conversation."""
        return await self._run(
            context,
            request.question,
            self.agent,
            save=request.save,
            conversation=request.conversation_id or "new",
        )

    async def rerun(self, context: RequestContext, execution: UUID) -> ExecutionView:
        """Compute ``execution`` again as ``context``'s caller, under its own policies, as a new
        execution of its own: its recorded reads (the same tool calls, the same SQL) run again;
        one that read nothing asks its question again. Its writes are not proposed again.
        404 ``execution_not_found`` (another workspace's too); 409 ``execution_not_finished``
        while it still runs."""
        async with self._db.transaction(str(context.require_workspace())) as conn:
            row = await store.get(conn, execution)
        if row is None:
            raise execution_not_found(execution)
        if row["status"] in ("running", "confirming"):
            raise Conflict(
                f"execution {execution} is {row['status']}: rerun it once it has ended",
                code="execution_not_finished",
                details={"status": row["status"]},
            )
        turns = [Turn.model_validate(t) for t in _loads(row["turns"])]
        reads = [
            ToolCall(tool=t.tool, arguments=t.arguments) for t in turns if t.tool not in WRITE_TOOLS
        ]
        agent = self.agent
        if reads:
            agent = PromptAgent(
                ReplayProvider(reads, text=f"Rerun of execution {execution}."),
                self.agent.tools,
                self.agent.settings,
                self.agent.runner,
            )
        return await self._run(
            context, row["question"], agent, rerun_of=execution, conversation="none"
        )

    async def _conversation(
        self, context: RequestContext, conversation: UUID | NewOrNone
    ) -> tuple[UUID | None, Conversation | None]:
        """The conversation an execution is a turn of (`new`: a new one; `none`: none, a
        rerun) and its earlier turns as the caller may see them (the history's choke point:
        a turn withheld from the caller gives no answer text, only how it was read)."""
        if conversation == "new":
            return uuid.uuid4(), None
        if conversation == "none":
            return None, None
        async with self._db.transaction(str(context.require_workspace())) as conn:
            if await store.touch_conversation(conn, conversation) is None:
                raise conversation_not_found(conversation)
            rows = await store.conversation_turns(
                conn, conversation, self.agent.settings.conversation_turns
            )
        views = await self._shown(context, rows)
        return conversation, Conversation(id=str(conversation), turns=[_prior(v) for v in views])

    async def _run(
        self,
        context: RequestContext,
        question: str,
        agent: PromptAgent,
        *,
        save: bool = False,
        rerun_of: UUID | None = None,
        conversation: UUID | NewOrNone = "none",
    ) -> ExecutionView:
        workspace = context.require_workspace()
        execution = uuid.uuid4()
        saved: UUID | None = None
        conversation_id, earlier = await self._conversation(context, conversation)
        async with self._db.transaction(str(workspace)) as conn:
            if conversation == "new" and conversation_id is not None:
                await store.insert_conversation(
                    conn, conversation_id, workspace, _title_of(question), context.actor
                )
            await store.insert_execution(
                conn,
                execution,
                workspace,
                question,
                context.actor,
                governance=history.GovernanceRecord().model_dump(),
                rerun_of=rerun_of,
                conversation=conversation_id,
            )
            if save:
                saved = uuid.uuid4()
                await store.insert_saved(
                    conn, saved, workspace, _name_of(question), question, context.actor
                )
        catalog, before = await governed_catalog(self._db, context, self._governance)
        turns: list[Turn] = []

        async def on_turn(turn: Turn) -> None:
            turns.append(turn)
            governance = await self._record(context, turns, before)
            async with self._db.transaction(str(workspace)) as conn:
                await store.record_turns(
                    conn, execution, [t.model_dump(mode="json") for t in turns], governance
                )
                await add_to_outbox(
                    conn,
                    Topic.NOTIFICATIONS,
                    Event(
                        type=PROMPT_PROGRESS,
                        workspace_id=workspace,
                        actor=context.actor,
                        data={
                            "execution_id": str(execution),
                            "turn": turn.index,
                            "tool": turn.tool,
                            "status": turn.status,
                            "summary": history.public_summary(turn),
                        },
                    ),
                )

        run = await agent.execute(context, question, catalog, on_turn, earlier)
        governance = await self._record(context, run.turns, before)
        reading = reading_of(question, run, catalog)
        row = await self._finish(context, execution, run, governance, reading)
        [view] = await self._shown(context, [row])
        return view.model_copy(update={"saved_prompt_id": saved})

    async def _governed(
        self, context: RequestContext, datasets: list[UUID]
    ) -> dict[UUID, Governed]:
        if not datasets:
            return {}
        if self._governance is None:  # the agent alone (tests): nothing is governed
            return {d: Governed(dataset_id=d) for d in datasets}
        return await self._governance.governed(context, datasets)

    async def _record(
        self, context: RequestContext, turns: list[Turn], before: dict[UUID, Governed]
    ) -> dict[str, Any]:
        """What ``turns`` were computed under: the caller's governance of what they read now,
        checked against ``before`` (when the execution started)."""
        read, unnamed = history.datasets_read(turns)
        now = await self._governed(context, read)
        return history.record_of(read, unnamed, before, now).model_dump()

    async def _shown(self, context: RequestContext, rows: list[Any]) -> list[ExecutionView]:
        """The executions as ``context``'s caller may see them: whole where its policies make
        the same of what each read as its creator's did, else withheld."""
        records = [history.parse_record(r["governance"]) for r in rows]
        datasets = list(dict.fromkeys(d for r in records for d in history.record_datasets(r)))
        existing: set[UUID] = set()
        if datasets:
            async with self._db.transaction(str(context.require_workspace())) as conn:
                existing = await store.existing_datasets(conn, datasets)
        reader = await self._governed(context, [d for d in datasets if d in existing])
        views = []
        for row, record in zip(rows, records, strict=True):
            view = _view(row)
            reason = history.withheld_reason(view, record, reader, existing)
            views.append(history.withhold(view, reason) if reason else view)
        return views

    async def _finish(
        self,
        context: RequestContext,
        execution: UUID,
        run: AgentRun,
        governance: dict[str, Any] | None = None,
        reading: Reading | None = None,
    ) -> Any:
        """Record how the execution ended (``governance``: what it was computed under;
        ``reading``: how it was read; None: as recorded) and explain it; the row."""
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            row = await store.get(conn, execution)
        if row is None:
            raise execution_not_found(execution)
        draft = _view(row).model_copy(
            update={
                "status": run.status,
                "turns": run.turns,
                "pending": run.pending,
                "steps": run.steps,
                "answer": run.answer,
                "provider": run.provider,
                "error": run.error,
            }
        )
        explanation = await self._explainer.explain(draft)
        async with self._db.transaction(str(workspace)) as conn:
            row = await store.finish(
                conn,
                execution,
                status=run.status,
                turns=[t.model_dump(mode="json") for t in run.turns],
                steps=[s.model_dump(mode="json") for s in run.steps],
                pending=[p.model_dump(mode="json") for p in run.pending],
                answer=run.answer,
                explanation=explanation.model_dump(mode="json"),
                provider=run.provider,
                error=run.error,
                governance=governance,
                reading=reading.model_dump(mode="json") if reading is not None else None,
            )
            await add_to_outbox(
                conn,
                Topic.NOTIFICATIONS,
                Event(
                    type=PROMPT_COMPLETED,
                    workspace_id=workspace,
                    actor=context.actor,
                    data={
                        "execution_id": str(execution),
                        "status": run.status,
                        "turns": len(run.turns),
                        "pending": len(run.pending),
                    },
                ),
            )
        return row

    async def get(self, context: RequestContext, execution: UUID) -> ExecutionView:
        async with self._db.transaction(str(context.require_workspace())) as conn:
            row = await store.get(conn, execution)
        if row is None:
            raise execution_not_found(execution)
        [view] = await self._shown(context, [row])
        return view

    async def list_executions(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> ExecutionPage:
        after = decode_cursor(cursor)
        async with self._db.transaction(str(context.require_workspace())) as conn:
            rows = await store.page(conn, "prompt_executions", after, limit)
        return ExecutionPage(
            items=await self._shown(context, rows[:limit]),
            next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
        )

    # Conversations -------------------------------------------------------------------------

    async def _conversation_views(
        self, context: RequestContext, rows: list[Any]
    ) -> list[ConversationView]:
        last_ids = [r["last_id"] for r in rows if r["last_id"] is not None]
        async with self._db.transaction(str(context.require_workspace())) as conn:
            lasts = await store.executions(conn, last_ids) if last_ids else []
        shown = {v.id: v for v in await self._shown(context, lasts)}
        return [
            ConversationView(
                id=r["id"],
                title=r["title"],
                created_by=r["created_by"],
                created_at=r["created_at"],
                updated_at=r["updated_at"],
                turn_count=r["turn_count"],
                last=shown.get(r["last_id"]),
            )
            for r in rows
        ]

    async def list_conversations(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> ConversationPage:
        """The workspace's conversations, newest first; each latest turn as the caller may
        see it (withheld as in the history)."""
        after = decode_cursor(cursor)
        async with self._db.transaction(str(context.require_workspace())) as conn:
            rows = await store.page_conversations(conn, after, limit)
        return ConversationPage(
            items=await self._conversation_views(context, rows[:limit]),
            next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
        )

    async def get_conversation(
        self, context: RequestContext, conversation: UUID
    ) -> ConversationDetail:
        """A conversation with every turn, oldest first, each as the caller may see it; 404
        ``conversation_not_found`` (another workspace's too)."""
        async with self._db.transaction(str(context.require_workspace())) as conn:
            row = await store.get_conversation(conn, conversation)
            turns = await store.conversation_turns(conn, conversation) if row else []
        if row is None:
            raise conversation_not_found(conversation)
        [view] = await self._conversation_views(context, [row])
        return ConversationDetail(**view.model_dump(), turns=await self._shown(context, turns))

    async def confirm(self, context: RequestContext, execution: UUID) -> ExecutionView:
        """Run the pending writes as ``context``'s caller: 403 ``confirmation_forbidden``
        unless their role allows every one; 409 ``execution_not_awaiting_confirmation`` if
        there is nothing to confirm (confirmed already, or never waiting)."""
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            row = await store.get(conn, execution, lock=True)
            if row is None:
                raise execution_not_found(execution)
            if row["status"] != "awaiting_confirmation":
                raise Conflict(
                    f"execution {execution} is {row['status']}: nothing to confirm",
                    code="execution_not_awaiting_confirmation",
                    details={"status": row["status"]},
                )
            pending = [PendingCall.model_validate(p) for p in json.loads(row["pending"])]
            refused = self.agent.refusals(context, pending)
            if refused:
                role = context.role.name if context.role else "caller"
                raise Forbidden(
                    f"a {role} may not confirm: "
                    + "; ".join(f"{p.tool} needs {p.needs}" for p in refused),
                    code="confirmation_forbidden",
                    details={"calls": [{"tool": p.tool, "needs": p.needs} for p in refused]},
                )
            row = await store.start_confirming(conn, execution, context.actor)
        view = _view(row)
        try:
            catalog = await load_catalog(self._db, context, self._governance)
            done = await self.agent.confirm(context, catalog, pending, len(view.turns))
        except Exception as exc:
            # Recorded as failed rather than left `confirming`: which writes ran is unknown,
            # so nothing is offered for confirmation again.
            broken = AgentRun(
                status="failed",
                turns=view.turns,
                steps=view.steps,
                provider=view.provider,
                answer=view.answer,
                error=error_of(exc),
            )
            await self._finish(context, execution, broken)
            raise
        by_call = {t.call_id: t for t in done}
        turns = [
            by_call.pop(t.call_id)
            if t.status == "pending_confirmation" and t.call_id in by_call
            else t
            for t in view.turns
        ]
        failed = [t for t in done if t.status != "ok"]
        run = AgentRun(
            status="failed" if failed else "completed",
            turns=turns,
            pending=[],
            steps=view.steps,
            provider=view.provider,
            answer=summary_of(turns),
            error={"code": "confirmed_call_failed", "message": "; ".join(t.summary for t in failed)}
            if failed
            else None,
        )
        # The turns before the confirmation were computed under their creator's governance,
        # kept as recorded; the confirmed writes read no data. The confirmer is shown what its
        # own policies allow.
        [shown] = await self._shown(context, [await self._finish(context, execution, run)])
        return shown

    # Saved prompts -----------------------------------------------------------------------

    async def save(self, context: RequestContext, request: SavedPromptCreate) -> SavedPrompt:
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            row = await store.insert_saved(
                conn,
                uuid.uuid4(),
                workspace,
                request.name or _name_of(request.question),
                request.question,
                context.actor,
            )
        return SavedPrompt(**_saved(row))

    async def list_saved(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> SavedPromptPage:
        after = decode_cursor(cursor)
        async with self._db.transaction(str(context.require_workspace())) as conn:
            rows = await store.page(conn, "saved_prompts", after, limit)
        return SavedPromptPage(
            items=[SavedPrompt(**_saved(r)) for r in rows[:limit]],
            next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
        )

    async def delete_saved(self, context: RequestContext, saved: UUID) -> None:
        async with self._db.transaction(str(context.require_workspace())) as conn:
            if not await store.delete_saved(conn, saved):
                raise NotFound(f"saved prompt {saved} not found", code="saved_prompt_not_found")


def _title_of(question: str) -> str:
    return " ".join(question.split())[:200]


def _prior(view: ExecutionView) -> PriorTurn:
    reading = view.reading or Reading()
    layer = reading.layer
    return PriorTurn(
        question=view.question,
        status=view.status,
        answer=view.answer,
        sql=reading.sql,
        tables=reading.tables,
        understood=reading.understood,
        layer=[
            *layer.measures,
            *layer.synonyms,
            *layer.relationships,
            *(f"verified query: {q}" for q in layer.verified_queries),
        ],
        clarification=reading.clarification,
    )


def reading_of(question: str, run: AgentRun, catalog: PromptCatalog) -> Reading:
    """How ``question`` was read in ``run``: the phrases understood, the SQL of its answer
    (as the provider wrote it, before governance), the tables and semantic layer entries it
    used, and the clarifying question it ended with."""
    queries = [t for t in run.turns if t.tool == "run_sql" and t.status == "ok"]
    sql = str(queries[-1].arguments.get("sql")) if queries else None
    tables = [str(d.get("name")) for d in queries[-1].result.get("datasets", [])] if queries else []
    return Reading(
        understood=run.understood,
        sql=sql,
        tables=tables,
        layer=layer_used(question, sql, catalog) if sql else LayerUse(),
        clarification=run.clarification,
    )


def _name_of(question: str) -> str:
    words = question.split()
    name = " ".join(words[:8])
    return (name if len(words) <= 8 else f"{name}...")[:200]


def _saved(row: Any) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "name", "question", "created_by", "created_at")}


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _datasets_of(turn: Turn) -> list[str]:
    named = [str(d.get("name") or d.get("dataset_id")) for d in turn.result.get("datasets", [])]
    argument = turn.arguments.get("dataset") or (turn.arguments.get("policy") or {}).get("dataset")
    if turn.tool == "save_result" and turn.arguments.get("name"):
        named.append(str(turn.arguments["name"]))
    if not named and argument:
        named.append(str(argument))
    return list(dict.fromkeys(named))


def plan_of(turns: list[Turn]) -> Plan:
    """The typed plan of an execution, from its tool calls (run, refused or pending)."""
    steps = [
        PlannedCall(
            tool=t.tool,
            arguments=t.arguments,
            status=t.status,
            datasets=_datasets_of(t),
            effect="write" if t.tool in WRITE_TOOLS else "read",
            needs=tool_access(t.tool),
        )
        for t in turns
    ]
    reads = [d for s in steps if s.effect == "read" for d in s.datasets]
    writes = [d for s in steps if s.effect == "write" for d in s.datasets]
    return Plan(steps=steps, reads=list(dict.fromkeys(reads)), writes=list(dict.fromkeys(writes)))


def _table(turns: list[Turn]) -> AnswerTable | None:
    done = [t for t in turns if t.tool == "run_sql" and t.status == "ok" and t.result]
    if not done:
        return None
    table = AnswerTable.model_validate(done[-1].result)
    return table.model_copy(update={"chart": suggest_chart(table.columns, table.types)})


def _view(row: Any) -> ExecutionView:
    explanation = _loads(row["explanation"])
    reading = _loads(row["reading"])
    turns = [Turn.model_validate(t) for t in _loads(row["turns"])]
    return ExecutionView(
        id=row["id"],
        question=row["question"],
        status=row["status"],
        answer=row["answer"],
        conversation_id=row["conversation_id"],
        table=_table(turns),
        plan=plan_of(turns),
        reading=Reading.model_validate(reading) if reading else None,
        explanation=Explanation.model_validate(explanation) if explanation else None,
        turns=turns,
        pending=[PendingCall.model_validate(p) for p in _loads(row["pending"])],
        steps=[StepRecord.model_validate(s) for s in _loads(row["steps"])],
        provider=row["provider"],
        error=_loads(row["error"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        confirmed_by=row["confirmed_by"],
        confirmed_at=row["confirmed_at"],
        rerun_of=row["rerun_of"],
    )
