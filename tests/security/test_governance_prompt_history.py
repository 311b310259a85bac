"""Prompt history is governed: a stored execution's rows (and everything said about them) are
shown only to readers whose policies make the same of what it read; the others get the
question, plan and SQL, and a rerun computes it under their own policies.

A workspace with an ungoverned owner (and admin), an editor who sees German customers only
(a row filter) and a viewer whose customers' contact names are masked, over Northwind's
customers, through the API on Ray with an OpenAI-compatible stub as the model (so the SQL and
the model's text are the test's)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from rivergen.agents.prompt_studio import store as prompt_store
from rivergen.agents.prompt_studio.openai import messages_of
from rivergen.agents.prompt_studio.steps import StepRequest
from rivergen.db import Database
from rivergen.services.planning.catalog import CatalogColumn, CatalogTable, PromptCatalog
from rivergen.settings import ModelProviderSettings, Settings
from tests.conftest import SHARED_DATA
from tests.integration.api_client import Account, new_team, prompt_platform, register
from tests.integration.openai_stub import OpenAIStub, openai_stub
from tests.integration.ray_cluster import ray_local
from tests.integration.test_datasets_api import create, put_file

STUB_PORT = 23104
CUSTOMERS = 67  # rows of Northwind's customers.csv that parse
SQL = "SELECT customerID, companyName, contactName, country FROM customers ORDER BY customerID"
# What the model says once it saw the rows: a German customer's contact (masked for the viewer)
# and a Mexican customer (filtered out for the editor).
ANSWER = "Alfreds Futterkiste (Maria Anders) comes first, then Ana Trujillo Emparedados y helados."
WITHHELD = "recomputed_under_other_policies"
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    with openai_stub(STUB_PORT) as server:
        yield server


@pytest.fixture
async def client(migrated: Settings, stub: OpenAIStub) -> AsyncIterator[httpx.AsyncClient]:
    stub.reset()
    provider = ModelProviderSettings(name="stub", base_url=stub.url, model="stub", timeout_s=10)
    prompts = migrated.prompts.model_copy(update={"providers": [provider], "max_seconds": 60.0})
    async with prompt_platform(migrated, prompts, timeout_s=120) as http:
        yield http


async def upload(client: httpx.AsyncClient, owner: Account, name: str) -> str:
    data = (SHARED_DATA / "northwind" / f"{name}.csv").read_bytes()
    file_id = await put_file(client, owner, f"{name}.csv", data)
    # Northwind's customers have unquoted commas in some addresses: those rows are left out.
    made = await create(client, owner, name, file_id, on_invalid_rows="skip")
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def add_policy(client: httpx.AsyncClient, admin: Account, policy: dict[str, Any]) -> str:
    made = await client.post("/api/v1/policies", json=policy, headers=admin.headers())
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def governed_team(client: httpx.AsyncClient) -> tuple[dict[str, Account], str]:
    """Owner and admin ungoverned; the editor sees German customers only; the viewer's
    contact names are masked."""
    people = await new_team(client)
    owner = people["owner"]
    customers = await upload(client, owner, "customers")
    await add_policy(
        client,
        owner,
        {
            "name": "germany only",
            "dataset_id": customers,
            "roles": ["editor"],
            "rule": {
                "type": "row_filter",
                "filters": [{"column": "country", "op": "==", "value": "Germany"}],
            },
        },
    )
    await add_policy(
        client,
        owner,
        {
            "name": "hide contacts",
            "dataset_id": customers,
            "roles": ["viewer"],
            "rule": {"type": "mask", "columns": ["contactName"], "method": "redact"},
        },
    )
    return people, customers


async def ask(
    client: httpx.AsyncClient, stub: OpenAIStub, who: Account, sql: str, answer: str
) -> dict[str, Any]:
    stub.reply("stub", tool_calls=[("run_sql", {"sql": sql})])
    stub.reply("stub", content=answer)
    response = await client.post(
        "/api/v1/prompts/execute",
        json={"question": "who are our customers"},
        headers=who.headers(),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "completed", body
    return body


async def history(
    client: httpx.AsyncClient, who: Account, execution: str
) -> tuple[dict[str, Any], list[str]]:
    """The execution as ``who`` lists it and gets it (they must agree), and the text of both
    responses."""
    listed = await client.get("/api/v1/prompts/executions", headers=who.headers())
    assert listed.status_code == 200, listed.text
    items = [e for e in listed.json()["items"] if e["id"] == execution]
    assert len(items) == 1, listed.text
    got = await client.get(f"/api/v1/prompts/executions/{execution}", headers=who.headers())
    assert got.status_code == 200, got.text
    assert got.json() == items[0]
    return got.json(), [listed.text, got.text]


async def rerun(client: httpx.AsyncClient, who: Account, execution: str) -> httpx.Response:
    return await client.post(f"/api/v1/prompts/executions/{execution}/rerun", headers=who.headers())


def leaked(texts: list[str], hidden: set[str]) -> list[str]:
    """The hidden values that appear anywhere in the responses' text (as sent, and as JSON
    with its non-ASCII characters escaped)."""
    assert hidden
    forms = [*texts, *(json.dumps(json.loads(t)) for t in texts)]
    return sorted(v for v in hidden if any(v in text for text in forms))


def assert_withheld(view: dict[str, Any], original: dict[str, Any]) -> None:
    """No data of ``original``; its question, plan, SQL, columns and status."""
    assert view["rows_withheld"] is True and view["withheld_reason"] == WITHHELD
    assert view["question"] == original["question"] and view["status"] == original["status"]
    assert view["plan"] == original["plan"]
    table = view["table"]
    assert table["rows"] == [] and table["row_count"] is None
    assert table["sql"] == original["table"]["sql"]
    assert table["columns"] == original["table"]["columns"]
    assert view["answer"] != original["answer"]
    assert view["explanation"]["row_count"] is None
    assert view["explanation"]["sql"] == original["explanation"]["sql"]
    [turn] = view["turns"]
    assert turn["arguments"] == {"sql": SQL}
    assert "rows" not in turn["result"] and "row_count" not in turn["result"]
    assert f"{CUSTOMERS} row" not in turn["summary"]
    assert all(step["text"] == "" for step in view["steps"]) and view["steps"]


async def test_history_withholds_rows_from_readers_governed_otherwise_and_rerun_governs(
    client: httpx.AsyncClient, stub: OpenAIStub, db: Database
) -> None:
    people, customers = await governed_team(client)
    owner, viewer, editor = people["owner"], people["viewer"], people["editor"]
    original = await ask(client, stub, owner, SQL, ANSWER)
    execution = original["id"]
    rows = original["table"]["rows"]
    assert len(rows) == original["table"]["row_count"] == CUSTOMERS
    assert original["answer"] == ANSWER and original["rows_withheld"] is False
    contacts = {r["contactName"] for r in rows if r["contactName"] not in (None, "NULL")}
    german = {r["customerID"] for r in rows if r["country"] == "Germany"}
    elsewhere = [r for r in rows if r["country"] != "Germany"]
    assert len(contacts) > 50 and german and elsewhere
    # What the editor's row filter hides: every other country's customers.
    not_german = {r["companyName"] for r in elsewhere} | {r["contactName"] for r in elsewhere}

    # The owner, and the admin (governed alike: by nothing), see it as it was.
    for same in (owner, people["admin"]):
        view, _ = await history(client, same, execution)
        assert view["rows_withheld"] is False and view["withheld_reason"] is None
        assert view["table"]["rows"] == rows and view["answer"] == ANSWER
        assert view["turns"] == original["turns"] and view["steps"] == original["steps"]

    # The viewer and the editor get the question, plan and SQL, no value and no count.
    for reader, hidden in ((viewer, contacts), (editor, not_german)):
        view, texts = await history(client, reader, execution)
        assert_withheld(view, original)
        assert leaked(texts, hidden | {ANSWER}) == []
        assert view["explanation"]["datasets"] == ["customers"]

    # A rerun is the reader's own execution, under the reader's policies.
    as_viewer = await rerun(client, viewer, execution)
    assert as_viewer.status_code == 201, as_viewer.text
    mine = as_viewer.json()
    assert mine["id"] != execution and mine["rerun_of"] == execution
    assert mine["status"] == "completed" and mine["rows_withheld"] is False
    assert mine["table"]["sql"] == original["table"]["sql"]
    masked = mine["table"]["rows"]
    assert len(masked) == mine["table"]["row_count"] == CUSTOMERS
    names = {r["contactName"] for r in masked}
    assert "****" in names and names <= {"****", None}
    assert {r["customerID"] for r in masked} == {r["customerID"] for r in rows}
    # (Some contacts name their company: those are the company's name, which the viewer sees.)
    companies = " ".join(r["companyName"] for r in rows)
    assert leaked([as_viewer.text], {c for c in contacts if c not in companies}) == []
    again, _ = await history(client, viewer, mine["id"])
    assert again["table"]["rows"] == masked and again["created_by"] == mine["created_by"]
    assert mine["created_by"] != original["created_by"]

    as_editor = await rerun(client, editor, execution)
    assert as_editor.status_code == 201, as_editor.text
    filtered = as_editor.json()["table"]["rows"]
    assert filtered and all(r["country"] == "Germany" for r in filtered)
    assert {r["customerID"] for r in filtered} == german
    by_id = {r["customerID"]: r for r in rows}
    assert all(r["contactName"] == by_id[r["customerID"]]["contactName"] for r in filtered)
    assert leaked([as_editor.text], not_german) == []

    # The others' reruns are withheld from the owner in turn (computed under other policies).
    theirs, _ = await history(client, owner, mine["id"])
    assert theirs["rows_withheld"] is True and theirs["table"]["rows"] == []

    # Another workspace's execution does not exist.
    outsider = await register(client, "outsider")
    for response in (
        await rerun(client, outsider, execution),
        await client.get(f"/api/v1/prompts/executions/{execution}", headers=outsider.headers()),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "execution_not_found"

    # What went to everyone in the workspace as progress carries no count of the answer.
    async with db.transaction() as conn:
        summaries = [
            r["summary"]
            for r in await conn.fetch(
                "SELECT payload->'data'->>'summary' AS summary FROM event_outbox "
                "WHERE payload->>'type' = 'prompt.progress' "
                "AND payload->'data'->>'execution_id' = $1",
                execution,
            )
        ]
    assert summaries == ["Ran the query."]

    # Governance is the reader's now: a mask for every role hides the owner's own answer too,
    # and once it is gone the owner sees it again.
    policy = await add_policy(
        client,
        owner,
        {
            "name": "hide companies",
            "dataset_id": customers,
            "rule": {"type": "mask", "columns": ["companyName"], "method": "hash"},
        },
    )
    view, texts = await history(client, owner, execution)
    assert_withheld(view, original)
    assert leaked(texts, {r["companyName"] for r in rows}) == []
    deleted = await client.delete(f"/api/v1/policies/{policy}", headers=owner.headers())
    assert deleted.status_code == 204, deleted.text
    view, _ = await history(client, owner, execution)
    assert view["rows_withheld"] is False and view["table"]["rows"] == rows


async def test_a_confirmer_governed_otherwise_is_not_shown_the_rows(
    client: httpx.AsyncClient, stub: OpenAIStub
) -> None:
    """Confirming another's execution answers with the execution: as the confirmer may see
    it."""
    people, _ = await governed_team(client)
    owner, editor = people["owner"], people["editor"]
    stub.reply(
        "stub",
        tool_calls=[
            ("run_sql", {"sql": SQL}),
            ("save_result", {"sql": SQL, "name": "all_customers"}),
        ],
    )
    response = await client.post(
        "/api/v1/prompts/execute",
        json={"question": "keep our customers"},
        headers=owner.headers(),
    )
    assert response.status_code == 200, response.text
    original = response.json()
    assert original["status"] == "awaiting_confirmation", original
    rows = original["table"]["rows"]
    hidden = {r["companyName"] for r in rows if r["country"] != "Germany"}
    assert len(rows) == CUSTOMERS and hidden

    done = await client.post(
        f"/api/v1/prompts/executions/{original['id']}/confirm", headers=editor.headers()
    )
    assert done.status_code == 200, done.text
    confirmed = done.json()
    assert confirmed["status"] == "completed" and confirmed["rows_withheld"] is True
    assert confirmed["table"]["rows"] == [] and confirmed["turns"][1]["status"] == "ok"
    assert leaked([done.text], hidden) == []
    view, _ = await history(client, owner, original["id"])
    assert view["rows_withheld"] is False and view["table"]["rows"] == rows


def test_a_models_prompt_carries_no_value_hints() -> None:
    """The catalog's value hints are the caller's governed data, and an execution records only
    the governance of what its results read: a model provider must never be shown them (its
    text, kept in the history, could repeat them)."""
    secret = "Hint-Value-7f3a"
    catalog = PromptCatalog(
        tables=[
            CatalogTable(
                dataset_id=uuid.uuid4(),
                version=1,
                name="shippers",
                row_count=3,
                columns=[CatalogColumn(name="companyName", type="string", values=[secret])],
            )
        ]
    )
    request = StepRequest(question="anything", catalog=catalog, tools=[])
    assert secret in catalog.model_dump_json()
    assert secret not in json.dumps(messages_of(request))


async def test_unrecorded_or_running_executions(client: httpx.AsyncClient, db: Database) -> None:
    """An execution kept before its governance was recorded is shown to nobody with its rows;
    one still running cannot be rerun yet."""
    people = await new_team(client)
    owner = people["owner"]
    workspace = uuid.UUID(owner.workspace_id)
    kept, running = uuid.uuid4(), uuid.uuid4()
    secret = "Hanna Moos"
    turn = {
        "index": 0,
        "call_id": "call_old",
        "tool": "run_sql",
        "arguments": {"sql": SQL},
        "status": "ok",
        "summary": "The query returned 1 row(s).",
        "result": {
            "sql": SQL,
            "columns": ["contactName"],
            "rows": [{"contactName": secret}],
            "row_count": 1,
            "datasets": [],
        },
    }
    async with db.transaction(owner.workspace_id) as conn:
        await prompt_store.insert_execution(conn, kept, workspace, "who", "someone")
        await prompt_store.finish(
            conn,
            kept,
            status="completed",
            turns=[turn],
            steps=[],
            pending=[],
            answer=f"It is {secret}.",
            explanation=None,
            provider="stub",
            error=None,
        )
        await prompt_store.insert_execution(conn, running, workspace, "who", "someone")
    for who in (owner, people["viewer"]):
        view, texts = await history(client, who, str(kept))
        assert view["rows_withheld"] is True
        assert view["withheld_reason"] == "governance_not_recorded"
        assert view["table"]["rows"] == [] and view["table"]["columns"] == ["contactName"]
        assert leaked(texts, {secret}) == []
    busy = await rerun(client, people["viewer"], str(running))
    assert busy.status_code == 409, busy.text
    assert busy.json()["error"]["code"] == "execution_not_finished"
