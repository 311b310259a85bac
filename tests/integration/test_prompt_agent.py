"""Prompt Studio's agent with an OpenAI-compatible provider (the stub server): the provider's
tool calls go through the same authorization table as requests, a slow provider falls back in
time, every turn is recorded, writes wait for a confirmation by an allowed role."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from rivergen.db import Database
from rivergen.settings import ModelProviderSettings, Settings
from tests.conftest import SHARED_DATA
from tests.integration.api_client import Account, new_team, prompt_platform, register
from tests.integration.openai_stub import OpenAIStub, openai_stub
from tests.integration.ray_cluster import ray_local
from tests.integration.test_datasets_api import create, outbox_types, put_file

STUB_PORT = 23101
PRIMARY_TIMEOUT_S = 1.0
CUSTOMERS = 67  # rows of customers.csv that parse
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    with openai_stub(STUB_PORT) as server:
        yield server


@pytest.fixture
async def client(migrated: Settings, stub: OpenAIStub) -> AsyncIterator[httpx.AsyncClient]:
    stub.reset()
    providers = [
        ModelProviderSettings(
            name="primary", base_url=stub.url, model="primary", timeout_s=PRIMARY_TIMEOUT_S
        ),
        ModelProviderSettings(
            name="secondary",
            base_url=f"{stub.url}/v1",
            model="secondary",
            api_key="stub-key",
            timeout_s=5.0,
        ),
    ]
    prompts = migrated.prompts.model_copy(update={"providers": providers, "max_seconds": 20.0})
    async with prompt_platform(migrated, prompts, timeout_s=60) as http:
        yield http


async def customers(client: httpx.AsyncClient, owner: Account, name: str = "customers") -> str:
    data = (SHARED_DATA / "northwind" / "customers.csv").read_bytes()
    file_id = await put_file(client, owner, "customers.csv", data)
    # Northwind's customers have unquoted commas in some addresses: those rows are left out.
    made = await create(client, owner, name, file_id, on_invalid_rows="skip")
    assert made.status_code == 201, made.text
    assert made.json()["row_count"] == CUSTOMERS
    return str(made.json()["id"])


async def execute(client: httpx.AsyncClient, who: Account, question: str, **extra: Any) -> Any:
    response = await client.post(
        "/api/v1/prompts/execute", json={"question": question, **extra}, headers=who.headers()
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_viewers_prompt_cannot_delete_what_a_viewers_request_cannot(
    client: httpx.AsyncClient, stub: OpenAIStub
) -> None:
    people = await new_team(client)
    dataset = await customers(client, people["owner"])
    stub.reply("primary", tool_calls=[("delete_dataset", {"dataset": "customers"})])
    stub.reply("primary", content="I could not delete it.")

    body = await execute(client, people["viewer"], "delete the customers dataset")

    assert body["status"] == "completed"
    assert body["pending"] == []
    [turn] = body["turns"]
    assert turn["tool"] == "delete_dataset" and turn["status"] == "refused"
    assert turn["error"]["code"] == "tool_forbidden" and turn["provider"] == "primary"
    # The refusal went back to the provider as the tool's result.
    tool_messages = [m for m in stub.requests[-1]["messages"] if m["role"] == "tool"]
    assert "refused" in tool_messages[0]["content"]
    # Nothing changed, and the record says what happened.
    still = await client.get(f"/api/v1/datasets/{dataset}", headers=people["owner"].headers())
    assert still.status_code == 200
    got = await client.get(
        f"/api/v1/prompts/executions/{body['id']}", headers=people["viewer"].headers()
    )
    assert got.status_code == 200 and got.json()["turns"] == body["turns"]
    assert "delete_dataset" in got.json()["explanation"]["not_understood"][0]


async def test_a_provider_that_times_out_falls_back_within_its_timeout(
    client: httpx.AsyncClient, stub: OpenAIStub, db: Database
) -> None:
    owner = await register(client, "owner")
    await customers(client, owner)
    stub.delay["primary"] = 10.0
    stub.reply("secondary", tool_calls=[("describe_dataset", {"dataset": "customers"})])
    stub.reply("secondary", content=f"customers has {CUSTOMERS} rows.")

    start = time.monotonic()
    body = await execute(client, owner, "how many customers are there?")
    elapsed = time.monotonic() - start

    # Two steps, each waiting the primary's timeout once before the secondary answers.
    assert elapsed < 2 * PRIMARY_TIMEOUT_S + 3.0, elapsed
    assert body["status"] == "completed" and body["answer"] == f"customers has {CUSTOMERS} rows."
    assert [s["provider"] for s in body["steps"]] == ["secondary", "secondary"]
    assert all(s["fallbacks"][0]["provider"] == "primary" for s in body["steps"])
    [turn] = body["turns"]
    assert turn["tool"] == "describe_dataset" and turn["status"] == "ok"
    assert turn["summary"].startswith(f"customers: {CUSTOMERS} rows") and turn["duration_ms"] > 0
    assert turn["provider"] == "secondary"
    # The secondary got the tools, the catalog, the call and its result back.
    second = stub.requests_for("secondary")[-1]
    assert {t["function"]["name"] for t in second["tools"]} >= {
        "describe_dataset",
        "delete_dataset",
    }
    assert "customers (" in second["messages"][0]["content"]
    assert second["messages"][-1]["role"] == "tool"
    assert f"{CUSTOMERS} rows" in second["messages"][-1]["content"]
    # Visible in the history, and progress went to the workspace's room through the outbox.
    history = await client.get("/api/v1/prompts/executions", headers=owner.headers())
    assert [e["id"] for e in history.json()["items"]] == [body["id"]]
    assert history.json()["items"][0]["turns"] == body["turns"]
    types = await outbox_types(db, owner.workspace_id)
    assert types.count("prompt.progress") == 1 and types.count("prompt.completed") == 1


async def test_writes_wait_for_a_confirmation_by_an_allowed_role(
    client: httpx.AsyncClient, stub: OpenAIStub
) -> None:
    people = await new_team(client)
    owner = people["owner"]
    for confirmer, name in (("editor", "customers"), ("admin", "customers_copy")):
        dataset = await customers(client, owner, name)
        stub.reply("primary", tool_calls=[("delete_dataset", {"dataset": name})])

        body = await execute(client, people["editor"], f"delete {name}")

        assert body["status"] == "awaiting_confirmation", body
        [pending] = body["pending"]
        assert pending["tool"] == "delete_dataset" and pending["needs"] == "editor"
        assert pending["arguments"] == {"dataset": dataset}
        assert body["turns"][0]["status"] == "pending_confirmation"
        # Nothing was deleted before the confirmation.
        url = f"/api/v1/datasets/{dataset}"
        assert (await client.get(url, headers=owner.headers())).status_code == 200
        confirm = f"/api/v1/prompts/executions/{body['id']}/confirm"
        refused = await client.post(confirm, headers=people["viewer"].headers())
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        assert (await client.get(url, headers=owner.headers())).status_code == 200

        done = await client.post(confirm, headers=people[confirmer].headers())

        assert done.status_code == 200, done.text
        confirmed = done.json()
        assert confirmed["status"] == "completed" and confirmed["pending"] == []
        assert confirmed["turns"][0]["status"] == "ok"
        assert confirmed["turns"][0]["summary"] == f"Deleted dataset {name}."
        assert confirmed["confirmed_by"] == confirmed["turns"][0]["confirmed_by"]
        assert (await client.get(url, headers=owner.headers())).status_code == 404
        again = await client.post(confirm, headers=owner.headers())
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "execution_not_awaiting_confirmation"


async def test_another_workspaces_execution_does_not_exist(
    client: httpx.AsyncClient, stub: OpenAIStub
) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    await customers(client, alice)
    stub.reply("primary", tool_calls=[("delete_dataset", {"dataset": "customers"})])
    body = await execute(client, alice, "delete customers", save=True)
    assert body["status"] == "awaiting_confirmation" and body["saved_prompt_id"]

    for method, url in (
        ("GET", f"/api/v1/prompts/executions/{body['id']}"),
        ("POST", f"/api/v1/prompts/executions/{body['id']}/confirm"),
        ("DELETE", f"/api/v1/prompts/saved/{body['saved_prompt_id']}"),
    ):
        response = await client.request(method, url, headers=bob.headers())
        assert response.status_code == 404, (method, url, response.text)
    assert (await client.get("/api/v1/prompts/executions", headers=bob.headers())).json() == {
        "items": [],
        "next_cursor": None,
    }
    # Bob's own workspace has no dataset of that name: his provider's call finds nothing.
    stub.reply("primary", tool_calls=[("describe_dataset", {"dataset": "customers"})])
    mine = await execute(client, bob, "describe customers")
    assert mine["turns"][0]["status"] == "failed"
    assert mine["turns"][0]["error"]["code"] == "dataset_not_found"
    # Alice's execution still waits for her confirmation, and her saved prompt is there.
    got = await client.get(f"/api/v1/prompts/executions/{body['id']}", headers=alice.headers())
    assert got.json()["status"] == "awaiting_confirmation"
    saved = await client.get("/api/v1/prompts/saved", headers=alice.headers())
    assert [s["id"] for s in saved.json()["items"]] == [body["saved_prompt_id"]]
    gone = await client.delete(
        f"/api/v1/prompts/saved/{body['saved_prompt_id']}", headers=alice.headers()
    )
    assert gone.status_code == 204
