"""Prompt Studio with an OpenAI-compatible model (the stub server stands in for it): the model
hosted on the cluster by Ray Serve LLM is asked first when the setting turns it on, at its
route; a model whose SQL the engine refuses corrects itself a bounded number of times; the
sample values the model is shown are the caller's governed ones."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from rivergen.settings import ClusterLLMSettings, Settings
from tests.integration.api_client import prompt_platform, register
from tests.integration.openai_stub import OpenAIStub, openai_stub
from tests.integration.ray_cluster import ray_local
from tests.integration.test_prompt_studio import ask, shop

STUB_PORT = 23141
MODEL = "qwen2.5-1.5b-instruct"
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    with openai_stub(STUB_PORT) as server:
        yield server


@pytest.fixture
async def client(migrated: Settings, stub: OpenAIStub) -> AsyncIterator[httpx.AsyncClient]:
    """The platform with the in-cluster model turned on, its route served by the stub."""
    stub.reset()
    cluster = ClusterLLMSettings(enabled=True, base_url=f"{stub.url}/llm/v1", model=MODEL)
    prompts = migrated.prompts.model_copy(update={"cluster_llm": cluster, "max_turns": 10})
    async with prompt_platform(migrated, prompts, timeout_s=120) as http:
        yield http


def sql_turns(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in body["turns"] if t["tool"] == "run_sql"]


async def test_the_in_cluster_model_is_asked_first_at_its_route(
    client: httpx.AsyncClient, stub: OpenAIStub
) -> None:
    owner = await register(client, "owner")
    await shop(client, owner, profile=False)
    stub.reply(MODEL, tool_calls=[("run_sql", {"sql": "SELECT COUNT(*) AS n FROM customers"})])
    stub.reply(MODEL, content="There are some customers.")
    body = await ask(client, owner, "how many customers do we have")
    assert body["status"] == "completed", body
    assert body["provider"] == "cluster-llm"
    assert stub.paths[0] == "/llm/v1/chat/completions"
    assert stub.requests[0]["model"] == MODEL
    assert body["table"]["chart"]["kind"] == "number" and body["table"]["types"] == ["int64"]


async def test_a_refused_query_is_corrected_a_bounded_number_of_times(
    client: httpx.AsyncClient, stub: OpenAIStub
) -> None:
    owner = await register(client, "owner")
    await shop(client, owner, profile=False)
    # Bad SQL first (no such column), then good: the model saw the engine's error.
    stub.reply(MODEL, tool_calls=[("run_sql", {"sql": "SELECT nope FROM customers"})])
    stub.reply(MODEL, tool_calls=[("run_sql", {"sql": "SELECT COUNT(*) AS n FROM customers"})])
    stub.reply(MODEL, content="Counted.")
    body = await ask(client, owner, "count customers")
    assert body["status"] == "completed", body
    assert [t["status"] for t in sql_turns(body)] == ["failed", "ok"]
    tool_messages = [m for m in stub.requests[1]["messages"] if m["role"] == "tool"]
    assert json.loads(tool_messages[-1]["content"])["status"] == "failed"
    assert "nope" in tool_messages[-1]["content"]

    # Bad every time: after the first try and two corrections the execution stops.
    stub.reset()
    for n in range(5):
        stub.reply(MODEL, tool_calls=[("run_sql", {"sql": f"SELECT nope{n} FROM customers"})])
    failed = await ask(client, owner, "count customers again")
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "sql_corrections_exhausted"
    assert len(sql_turns(failed)) == 3 and len(stub.requests) == 3


async def test_the_model_sees_the_schemas_and_never_the_sample_values(
    client: httpx.AsyncClient, stub: OpenAIStub
) -> None:
    """The catalog's value hints are governed data its history does not record: a model is
    shown the datasets' schemas, never their values (tests/security's
    test_a_models_prompt_carries_no_value_hints, here end to end, profiled)."""
    owner = await register(client, "owner")
    await shop(client, owner, profile=True)

    stub.reply(MODEL, content="Noted.")
    await ask(client, owner, "which countries")
    system = stub.requests[-1]["messages"][0]["content"]
    line = next(line for line in system.splitlines() if line.startswith("- customers"))
    assert "country string" in line and "email string" in line
    assert "Germany" not in system
