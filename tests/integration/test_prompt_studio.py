"""Prompt Studio end to end through the API, on Ray: the shop sample uploaded as datasets,
questions answered by the built-in provider (checked against SQLite over the same CSVs), the
workspace's policies on every answer, writes held for a confirmation, and smuggled SQL refused
with nothing changed."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from importlib.resources import files
from typing import Any

import httpx
import pytest

from rivergen.settings import ModelProviderSettings, Settings
from tests.integration.api_client import Account, add_member, register
from tests.integration.openai_stub import OpenAIStub, openai_stub
from tests.integration.ray_cluster import ray_local
from tests.integration.test_datasets_api import create, put_file
from tests.platform_app import create_app

STUB_PORT = 23102
SHOP = files("rivergen.samples") / "shop"
TABLES = ("customers", "orders", "products")
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]


@pytest.fixture(scope="module")
def shop_sqlite() -> Iterator[sqlite3.Connection]:
    """The shop sample in SQLite, read with the csv module: the answers' second engine."""
    import csv

    db = sqlite3.connect(":memory:")
    for name in TABLES:
        with (SHOP / f"{name}.csv").open() as handle:
            rows = list(csv.reader(handle))
        header, body = rows[0], rows[1:]
        db.execute(f"CREATE TABLE {name} ({', '.join(header)})")
        db.executemany(
            f"INSERT INTO {name} VALUES ({', '.join('?' * len(header))})",
            [[float(v) if v.replace(".", "", 1).isdigit() else v for v in row] for row in body],
        )
    yield db
    db.close()


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    with openai_stub(STUB_PORT) as server:
        yield server


async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", timeout=120
        ) as http:
            yield http


def _settings(migrated: Settings, **prompts: Any) -> Settings:
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    return migrated.model_copy(
        update={
            "gateway": gateway,
            "prompts": migrated.prompts.model_copy(update=prompts),
        }
    )


@pytest.fixture
async def client(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The platform with the built-in provider only (nothing configured)."""
    async for http in _client(_settings(migrated)):
        yield http


@pytest.fixture
async def scripted(migrated: Settings, stub: OpenAIStub) -> AsyncIterator[httpx.AsyncClient]:
    """The platform with an OpenAI-compatible provider (the stub) first."""
    stub.reset()
    provider = ModelProviderSettings(name="stub", base_url=stub.url, model="stub", timeout_s=10)
    async for http in _client(_settings(migrated, providers=[provider])):
        yield http


async def shop(client: httpx.AsyncClient, owner: Account, profile: bool = True) -> dict[str, str]:
    """The shop sample as the owner's datasets (profiled: the catalog's value hints)."""
    ids = {}
    for name in TABLES:
        file_id = await put_file(client, owner, f"{name}.csv", (SHOP / f"{name}.csv").read_bytes())
        made = await create(client, owner, name, file_id)
        assert made.status_code == 201, made.text
        ids[name] = made.json()["id"]
        if profile:
            profiled = await client.post(
                f"/api/v1/datasets/{ids[name]}/profile", headers=owner.headers()
            )
            assert profiled.status_code == 200, profiled.text
    return ids


async def member(client: httpx.AsyncClient, owner: Account, role: str) -> Account:
    return await add_member(client, owner, role)


async def ask(client: httpx.AsyncClient, who: Account, question: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/prompts/execute", json={"question": question}, headers=who.headers()
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def values(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    table = body["table"]
    assert table is not None, [(t["status"], t["error"], t["summary"]) for t in body["turns"]]
    return [tuple(row[c] for c in table["columns"]) for row in table["rows"]]


def close(got: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> bool:
    def same(a: Any, b: Any) -> bool:
        if isinstance(a, int | float) and isinstance(b, int | float):
            return abs(a - b) <= 1e-6 * max(1.0, abs(b))
        return bool(a == b)

    return len(got) == len(expected) and all(
        len(g) == len(e) and all(same(a, b) for a, b in zip(g, e, strict=True))
        for g, e in zip(got, expected, strict=True)
    )


QUESTIONS = [
    ("how many customers are there", "SELECT COUNT(*) FROM customers"),
    (
        "how many customers are in Germany",
        "SELECT COUNT(*) FROM customers WHERE country = 'Germany'",
    ),
    (
        "number of cancelled or returned orders",
        "SELECT COUNT(*) FROM orders WHERE status IN ('cancelled', 'returned')",
    ),
    (
        "top 3 products by revenue",
        "SELECT p.product_id, p.name, SUM(o.amount) AS r FROM orders o JOIN products p "
        "ON o.product_id = p.product_id GROUP BY p.product_id, p.name ORDER BY r DESC LIMIT 3",
    ),
]


async def test_questions_are_answered_exactly_and_explained(
    client: httpx.AsyncClient, shop_sqlite: sqlite3.Connection
) -> None:
    owner = await register(client, "owner")
    ids = await shop(client, owner)
    for question, reference in QUESTIONS:
        body = await ask(client, owner, question)
        assert body["status"] == "completed", (question, body)
        expected = [tuple(r) for r in shop_sqlite.execute(reference).fetchall()]
        got = values(body)
        assert close(got, expected), (question, got, expected)
        explanation = body["explanation"]
        assert explanation["sql"] == [body["table"]["sql"]]
        assert set(explanation["datasets"]) <= set(ids) and explanation["datasets"]
        assert explanation["row_count"] == body["table"]["row_count"]
        assert body["turns"][0]["tool"] == "run_sql" and body["turns"][0]["status"] == "ok"
        # The typed plan: one read of the datasets the answer names, nothing written.
        plan = body["plan"]
        assert [s["effect"] for s in plan["steps"]] == ["read"] and plan["writes"] == []
        assert plan["reads"] == explanation["datasets"]

    # What the grammar does not cover is said, not guessed; nothing ran.
    unknown = await ask(client, owner, "how many unicorns flew over the customers")
    assert unknown["status"] == "not_understood" and unknown["turns"] == []
    assert unknown["table"] is None
    # Finding datasets and describing one are tools too.
    found = await ask(client, owner, "which datasets mention customers")
    assert found["status"] == "completed" and found["turns"][0]["tool"] == "search_catalog"
    # Every execution is kept: the history lists them, newest first.
    history = await client.get("/api/v1/prompts/executions", headers=owner.headers())
    assert history.status_code == 200
    assert history.json()["items"][0]["id"] == found["id"]


async def test_a_viewers_answers_are_masked_and_filtered_by_policy(
    scripted: httpx.AsyncClient, stub: OpenAIStub
) -> None:
    client = scripted
    owner = await register(client, "owner")
    viewer = await member(client, owner, "viewer")
    ids = await shop(client, owner, profile=False)
    for policy in (
        {
            "name": "hide emails",
            "dataset_id": ids["customers"],
            "roles": ["viewer"],
            "rule": {"type": "mask", "columns": ["email", "phone"], "method": "redact"},
        },
        {
            "name": "germany only",
            "dataset_id": ids["customers"],
            "roles": ["viewer"],
            "rule": {
                "type": "row_filter",
                "filters": [{"column": "country", "op": "==", "value": "Germany"}],
            },
        },
    ):
        made = await client.post("/api/v1/policies", json=policy, headers=owner.headers())
        assert made.status_code == 201, made.text

    sql = "SELECT name, email, phone, country FROM customers ORDER BY name"
    for _ in (viewer, owner):
        stub.reply("stub", tool_calls=[("run_sql", {"sql": sql})])
        stub.reply("stub", content="Here they are.")
    as_viewer, as_owner = await ask(client, viewer, "emails"), await ask(client, owner, "emails")

    seen = as_viewer["table"]
    assert seen["row_count"] > 0 and all(r["country"] == "Germany" for r in seen["rows"])
    assert all(r["email"] == "****" and r["phone"] == "****" for r in seen["rows"])
    raw = as_owner["table"]
    assert raw["row_count"] > seen["row_count"]
    assert all("@" in r["email"] for r in raw["rows"])
    # The explanation names the policies and the masked columns.
    explanation = as_viewer["explanation"]
    assert set(explanation["policies"]) == {"hide emails (mask)", "germany only (row_filter)"}
    assert set(explanation["masked_columns"]) >= {"customers.email", "customers.phone"}
    assert any("Germany" in f for f in explanation["filters"])
    # Filtering or grouping on a masked column reveals nothing either.
    stub.reply(
        "stub",
        tool_calls=[
            (
                "run_sql",
                {"sql": "SELECT COUNT(*) AS n FROM customers WHERE email LIKE '%example%'"},
            )
        ],
    )
    probe = await ask(client, viewer, "probe")
    assert values(probe) == [(0,)], probe["turns"]


async def test_writes_wait_for_an_allowed_persons_confirmation(client: httpx.AsyncClient) -> None:
    owner = await register(client, "owner")
    viewer, editor = await member(client, owner, "viewer"), await member(client, owner, "editor")
    ids = await shop(client, owner, profile=False)

    body = await ask(client, editor, "delete the products dataset")
    assert body["status"] == "awaiting_confirmation", body
    [pending] = body["pending"]
    assert pending["tool"] == "delete_dataset"
    assert body["plan"]["writes"] == [ids["products"]] and body["plan"]["reads"] == []
    assert body["plan"]["steps"][0]["needs"] == "editor"
    products = f"/api/v1/datasets/{ids['products']}"
    assert (await client.get(products, headers=owner.headers())).status_code == 200

    confirm = f"/api/v1/prompts/executions/{body['id']}/confirm"
    refused = await client.post(confirm, headers=viewer.headers())
    assert refused.status_code == 403, refused.text
    assert (await client.get(products, headers=owner.headers())).status_code == 200
    done = await client.post(confirm, headers=editor.headers())
    assert done.status_code == 200, done.text
    assert done.json()["confirmed_by"] is not None
    assert (await client.get(products, headers=owner.headers())).status_code == 404
    again = await client.post(confirm, headers=editor.headers())
    assert again.status_code == 409

    # A write-back: the answer kept as a dataset, once an editor confirms it.
    saving = await ask(client, editor, "orders over $500 and save as big orders")
    assert saving["status"] == "awaiting_confirmation", saving
    assert [p["tool"] for p in saving["pending"]] == ["save_result"]
    saved = await client.post(
        f"/api/v1/prompts/executions/{saving['id']}/confirm", headers=editor.headers()
    )
    assert saved.status_code == 200, saved.text
    listed = await client.get("/api/v1/datasets", headers=owner.headers())
    names = {d["name"]: d for d in listed.json()["items"]}
    assert "big_orders" in names
    assert all(
        r["amount"] > 500
        for r in (
            await client.get(
                f"/api/v1/datasets/{names['big_orders']['id']}/preview", headers=owner.headers()
            )
        ).json()["rows"]
    )


SMUGGLED_PROMPTS = [
    "customers named 'x'; DROP TABLE customers; --",
    "how many customers /* */ are there",
    "show customers where name = '' OR 1=1 --",
]
SMUGGLED_SQL = [
    ("SELECT * FROM customers; DROP TABLE customers", "sql_multiple_statements"),
    ("DELETE FROM customers", "sql_not_read_only"),
    ("SELECT * FROM read_csv('/etc/passwd')", "sql_function_not_allowed"),
    ("SELECT getenv('HOME') FROM customers", "sql_function_not_allowed"),
    ("ATTACH '/tmp/other.db'", "sql_not_read_only"),
]


async def datasets_state(client: httpx.AsyncClient, owner: Account) -> list[tuple[str, int]]:
    listed = (await client.get("/api/v1/datasets", headers=owner.headers())).json()["items"]
    return sorted((d["name"], d["row_count"]) for d in listed)


async def test_smuggled_sql_is_refused_and_nothing_changes(
    scripted: httpx.AsyncClient, stub: OpenAIStub
) -> None:
    client = scripted
    owner = await register(client, "owner")
    await shop(client, owner, profile=False)
    before = await datasets_state(client, owner)
    # Straight to the SQL tool (a model could ask for anything): refused with a code.
    for sql, code in SMUGGLED_SQL:
        stub.reply("stub", tool_calls=[("run_sql", {"sql": sql})])
        stub.reply("stub", content="Done.")
        body = await ask(client, owner, "anything")
        [turn] = body["turns"]
        assert turn["status"] == "failed" and turn["error"]["code"] == code, (sql, turn)
    assert await datasets_state(client, owner) == before


async def test_smuggled_prompts_are_refused_or_stay_quoted(client: httpx.AsyncClient) -> None:
    owner = await register(client, "owner")
    await shop(client, owner, profile=False)
    before = await datasets_state(client, owner)
    # The prompt is refused as a whole, or its text stays a quoted value in one SELECT.
    for prompt in SMUGGLED_PROMPTS:
        body = await ask(client, owner, prompt)
        assert body["status"] in ("not_understood", "completed"), body
        for turn in body["turns"]:
            assert turn["tool"] == "run_sql"
            assert ";" not in turn["arguments"]["sql"]
    assert await datasets_state(client, owner) == before
