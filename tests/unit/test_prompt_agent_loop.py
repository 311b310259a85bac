"""The agent loop on its own: bounded in steps and time, every call authorized by the route
table, writes proposed and never run, and the explanation of what happened."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from rivergen.accounts.principal import Principal, RequestContext
from rivergen.acl import ROUTE_ACCESS, TOOL_ROUTES, Role, tool_access
from rivergen.agents.prompt_studio import (
    PromptAgent,
    StepRequest,
    Tool,
    ToolBox,
    ToolContext,
    ToolResult,
)
from rivergen.agents.prompt_studio.schemas import ExecutionView
from rivergen.agents.prompt_studio.steps import FinalAnswer, Step, ToolCall, ToolCalls
from rivergen.agents.prompt_studio.tools import DatasetArgs, SqlArgs
from rivergen.services.language import explain
from rivergen.services.planning.catalog import CatalogColumn, CatalogTable, PromptCatalog
from rivergen.settings import PromptSettings

ORDERS = CatalogTable(
    dataset_id=uuid.uuid4(),
    version=1,
    name="orders",
    columns=[CatalogColumn(name="Freight", type="double")],
)
CATALOG = PromptCatalog(tables=[ORDERS])


def caller(role: Role) -> RequestContext:
    return RequestContext(Principal(user_id=uuid.uuid4()), uuid.uuid4(), role)


class Script:
    """A provider that answers from a list (and then keeps asking for the last step)."""

    name = "script"

    def __init__(self, steps: Sequence[Step], delay_s: float = 0.0) -> None:
        self.steps = list(steps)
        self.delay_s = delay_s
        self.requests: list[StepRequest] = []

    async def step(self, request: StepRequest) -> Step:
        self.requests.append(request)
        await asyncio.sleep(self.delay_s)
        return self.steps[min(len(self.requests), len(self.steps)) - 1]


def toolbox(ran: list[str]) -> ToolBox:
    async def sql(ctx: ToolContext, args: BaseModel) -> ToolResult:
        ran.append("run_sql")
        return ToolResult(
            summary="The query returned 2 row(s).",
            result={
                "sql": "SELECT * FROM orders WHERE Freight > 10",
                "row_count": 2,
                "datasets": [{"dataset_id": str(ORDERS.dataset_id), "name": "orders"}],
                "filters": ["Freight > 10", "ShipCountry = 'France' (policy)"],
                "policies": [
                    {"id": str(uuid.uuid4()), "name": "france only", "type": "row_filter"}
                ],
                "masked_columns": ["CustomerID"],
            },
        )

    async def delete(ctx: ToolContext, args: Any) -> ToolResult:
        ran.append("delete_dataset")
        return ToolResult(summary="deleted")

    return ToolBox(
        [
            Tool("run_sql", "sql", SqlArgs, sql),
            Tool(
                "delete_dataset",
                "delete",
                DatasetArgs,
                delete,
                writes=True,
                describe=lambda ctx, args: f"delete dataset {args.dataset}",
            ),
        ]
    )


def settings(**changes: Any) -> PromptSettings:
    return PromptSettings().model_copy(update=changes)


def sql_call() -> ToolCall:
    return ToolCall(tool="run_sql", arguments={"sql": "SELECT * FROM orders WHERE Freight > 10"})


def test_every_tool_follows_its_route_in_the_table() -> None:
    assert {t: tool_access(t) for t in TOOL_ROUTES} == {
        "search_catalog": "viewer",
        "describe_dataset": "viewer",
        "run_sql": "viewer",
        "profile_dataset": "editor",
        "start_job": "editor",
        "save_result": "editor",
        "delete_dataset": "editor",
        # Governance's route joins the table with its service: until then nobody may.
        "create_policy": ROUTE_ACCESS.get(("POST", "/api/v1/policies")),
    }
    assert tool_access("drop_database") is None


async def test_a_read_runs_a_write_waits_and_a_viewers_write_is_refused() -> None:
    ran: list[str] = []
    delete = ToolCall(tool="delete_dataset", arguments={"dataset": "orders"})
    provider = Script([ToolCalls(calls=[sql_call(), delete])])
    agent = PromptAgent(provider, toolbox(ran), settings())

    run = await agent.execute(caller(Role.editor), "q", CATALOG)

    assert run.status == "awaiting_confirmation" and ran == ["run_sql"]
    assert [t.status for t in run.turns] == ["ok", "pending_confirmation"]
    [pending] = run.pending
    assert pending.needs == "editor"
    assert pending.arguments == {"dataset": str(ORDERS.dataset_id)}  # pinned by id
    assert agent.refusals(caller(Role.viewer), run.pending) == run.pending
    assert agent.refusals(caller(Role.admin), run.pending) == []

    viewer = await PromptAgent(
        Script([ToolCalls(calls=[delete]), FinalAnswer(text="no")]), toolbox(ran), settings()
    ).execute(caller(Role.viewer), "q", CATALOG)
    assert viewer.status == "completed" and viewer.pending == []
    assert viewer.turns[0].status == "refused"
    assert viewer.turns[0].error is not None
    assert viewer.turns[0].error["code"] == "tool_forbidden"
    assert ran == ["run_sql"]


async def test_unknown_tools_and_bad_arguments_are_recorded_not_raised() -> None:
    calls = [ToolCall(tool="drop_database"), ToolCall(tool="run_sql", arguments={"query": 1})]
    provider = Script([ToolCalls(calls=calls), FinalAnswer(text="sorry")])
    run = await PromptAgent(provider, toolbox([]), settings()).execute(
        caller(Role.owner), "q", CATALOG
    )
    assert run.status == "completed" and run.answer == "sorry"
    assert [(t.status, t.error and t.error["code"]) for t in run.turns] == [
        ("failed", "unknown_tool"),
        ("failed", "invalid_tool_arguments"),
    ]
    # The provider saw both failures before it answered.
    assert [t.status for t in provider.requests[-1].turns] == ["failed", "failed"]


async def test_the_loop_is_bounded_in_steps_and_in_time() -> None:
    forever = Script([ToolCalls(calls=[sql_call()])])
    run = await PromptAgent(forever, toolbox([]), settings(max_turns=3)).execute(
        caller(Role.viewer), "q", CATALOG
    )
    assert run.status == "failed" and run.error is not None
    assert run.error["code"] == "turn_limit_reached" and len(run.turns) == 3

    slow = Script([FinalAnswer(text="late")], delay_s=5.0)
    loop = asyncio.get_running_loop()
    start = loop.time()
    run = await PromptAgent(slow, toolbox([]), settings(max_seconds=0.3)).execute(
        caller(Role.viewer), "q", CATALOG
    )
    assert loop.time() - start < 1.0
    assert run.status == "failed" and run.error is not None
    assert run.error["code"] == "execution_timed_out"


async def test_the_explanation_names_datasets_filters_policies_sql_and_rows() -> None:
    provider = Script([ToolCalls(calls=[sql_call()]), FinalAnswer(text="2 orders.")])
    run = await PromptAgent(provider, toolbox([]), settings()).execute(
        caller(Role.viewer), "orders with freight over 10", CATALOG
    )
    view = ExecutionView(
        id=uuid.uuid4(),
        question="orders with freight over 10",
        status=run.status,
        turns=run.turns,
        created_by="u",
        created_at="2026-01-01T00:00:00Z",
    )
    explanation = explain(view)
    assert explanation.datasets == ["orders"]
    assert explanation.filters == ["Freight > 10", "ShipCountry = 'France' (policy)"]
    assert explanation.policies == ["france only (row_filter)"]
    assert explanation.masked_columns == ["CustomerID"]
    assert explanation.sql == ["SELECT * FROM orders WHERE Freight > 10"]
    assert explanation.row_count == 2 and explanation.not_understood == []
    for part in ("orders", "Freight > 10", "france only", "CustomerID", "SELECT", "2 row(s)"):
        assert part in explanation.text

    confused = view.model_copy(
        update={
            "status": "not_understood",
            "turns": [],
            "error": {
                "code": "not_understood",
                "message": "I did not understand 'frob'",
                "details": {"unknown": ["frob"]},
            },
        }
    )
    assert explain(confused).not_understood == ["I did not understand 'frob'", "the word 'frob'"]
