"""Model providers: the built-in provider's intents as tool calls, the chat-completions wire
format both ways, and the fallback chain's order and timeouts."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from rivergen.agents.prompt_studio import (
    FallbackChain,
    FinalAnswer,
    ProviderError,
    StepRequest,
    ToolCalls,
)
from rivergen.agents.prompt_studio.openai import messages_of, step_of
from rivergen.agents.prompt_studio.providers import calls_of
from rivergen.agents.prompt_studio.steps import NotUnderstood, Step, ToolCall, ToolSpec, Turn
from rivergen.services.planning import intents
from rivergen.services.planning.catalog import CatalogColumn, CatalogTable, PromptCatalog

CATALOG = PromptCatalog(
    tables=[
        CatalogTable(
            dataset_id=uuid.uuid4(),
            version=1,
            name="orders",
            row_count=830,
            columns=[
                CatalogColumn(name="OrderID", type="int64"),
                CatalogColumn(name="Freight", type="double"),
            ],
        )
    ]
)


def test_each_intent_becomes_its_tool_calls() -> None:
    sql = "SELECT count(*) FROM orders"
    assert [
        (c.tool, c.arguments)
        for c in calls_of(  # type: ignore[union-attr]
            intents.QueryIntent(sql=sql, tables=["orders"], save_as="order_count")
        )
    ] == [("run_sql", {"sql": sql}), ("save_result", {"sql": sql, "name": "order_count"})]
    cases = [
        (intents.DescribeIntent(table="orders"), "describe_dataset", {"dataset": "orders"}),
        (intents.ProfileIntent(table="orders"), "profile_dataset", {"dataset": "orders"}),
        (
            intents.FindDatasetsIntent(terms=["churn", "risk"]),
            "search_catalog",
            {"query": "churn risk"},
        ),
        (
            intents.StartJobIntent(job_kind="pagerank", table="votes", params={"damping": 0.85}),
            "start_job",
            {"kind": "pagerank", "params": {"damping": 0.85}, "dataset": "votes"},
        ),
        (
            intents.CreatePolicyIntent(policy={"name": "p"}),
            "create_policy",
            {"policy": {"name": "p"}},
        ),
        (intents.DeleteDatasetIntent(table="orders"), "delete_dataset", {"dataset": "orders"}),
    ]
    for intent, tool, arguments in cases:
        calls = calls_of(intent)
        assert isinstance(calls, list)
        assert [(c.tool, c.arguments) for c in calls] == [(tool, arguments)]
    refused = calls_of(intents.NotUnderstood(message="no idea", unknown=["frobnicate"]))
    assert refused == NotUnderstood(message="no idea", unknown=["frobnicate"])


def test_the_conversation_replays_each_call_and_its_result() -> None:
    call = ToolCall(tool="describe_dataset", arguments={"dataset": "orders"})
    turn = Turn(
        index=0,
        call_id=call.id,
        tool=call.tool,
        arguments=call.arguments,
        status="ok",
        summary="orders: 830 rows",
        result={"rows": list(range(100))},
    )
    request = StepRequest(
        question="how many orders?",
        catalog=CATALOG,
        tools=[ToolSpec(name="describe_dataset", description="d", parameters={})],
        turns=[turn],
        assistant=[ToolCalls(calls=[call])],
    )
    messages = messages_of(request)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assert "orders (OrderID int64, Freight double), 830 rows" in messages[0]["content"]
    assert messages[2]["tool_calls"][0]["id"] == call.id
    assert json.loads(messages[2]["tool_calls"][0]["function"]["arguments"]) == call.arguments
    result = json.loads(messages[3]["content"])
    assert messages[3]["tool_call_id"] == call.id and result["summary"] == "orders: 830 rows"
    assert len(result["result"]["rows"]) == 20  # a provider reads a sample, not the answer


def test_a_completion_is_read_as_a_step() -> None:
    def completion(message: dict[str, object]) -> dict[str, object]:
        return {"choices": [{"message": message}]}

    calls = step_of(
        completion(
            {
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "run_sql", "arguments": '{"sql": "SELECT 1"}'},
                    }
                ],
            }
        )
    )
    assert isinstance(calls, ToolCalls)
    assert [(c.id, c.tool, c.arguments) for c in calls.calls] == [
        ("c1", "run_sql", {"sql": "SELECT 1"})
    ]
    assert step_of(completion({"content": "42 orders."})) == FinalAnswer(text="42 orders.")
    assert step_of(completion({"content": "NOT_UNDERSTOOD: 'frob'"})) == NotUnderstood(
        message="'frob'"
    )
    for bad in (
        {"choices": []},
        completion({"content": ""}),
        completion(
            {"tool_calls": [{"id": "c", "function": {"name": "run_sql", "arguments": "{not json"}}]}
        ),
    ):
        with pytest.raises(ProviderError):
            step_of(bad)


class Scripted:
    def __init__(self, name: str, answer: Step | Exception, delay_s: float = 0.0) -> None:
        self.name = name
        self.answer = answer
        self.delay_s = delay_s
        self.asked = 0

    async def step(self, request: StepRequest) -> Step:
        self.asked += 1
        await asyncio.sleep(self.delay_s)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def test_the_chain_falls_back_on_an_error_and_on_a_timeout() -> None:
    broken = Scripted("broken", ProviderError("HTTP 500"))
    slow = Scripted("slow", FinalAnswer(text="late"), delay_s=5.0)
    good = Scripted("good", FinalAnswer(text="42"))
    last = Scripted("builtin", FinalAnswer(text="never asked"))
    chain = FallbackChain([broken, slow, good], timeout_s=0.2, fallback=last)
    request = StepRequest(question="q", catalog=CATALOG, tools=[])

    start = time.monotonic()
    step = await chain.step(request)

    assert time.monotonic() - start < 1.0
    assert isinstance(step, FinalAnswer) and step.text == "42" and step.provider == "good"
    assert [(f.provider, f.error.split(":")[0]) for f in step.fallbacks] == [
        ("broken", "ProviderError"),
        ("slow", "no answer in 0.2 s"),
    ]
    assert last.asked == 0
    failing = FallbackChain([broken], timeout_s=0.2, fallback=Scripted("b", RuntimeError("x")))
    with pytest.raises(ProviderError) as raised:
        await failing.step(request)
    assert raised.value.error_code == "model_provider_unavailable"
