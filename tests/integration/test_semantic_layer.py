"""The semantic layer through the API, on Ray, over Northwind tables uploaded as datasets: the
automatic draft, edits and confirmation as versions, validation on the engine, tenancy and
roles, and both prompt providers reading the confirmed layer (the built-in one answering with a
layer measure; the OpenAI-compatible one, the stub, given it in its prompt)."""

from __future__ import annotations

import copy
import csv
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from rivergen.settings import ModelProviderSettings, Settings
from tests.conftest import SHARED_DATA
from tests.integration.api_client import Account, add_member, register
from tests.integration.openai_stub import OpenAIStub, openai_stub
from tests.integration.ray_cluster import ray_local
from tests.integration.test_datasets_api import create, put_file
from tests.platform_app import create_app

STUB_PORT = 23131
NORTHWIND = SHARED_DATA / "northwind"
FILES = {
    "products": "products.csv",
    "order_details": "order-details.csv",
    "orders": "orders.csv",
    "categories": "categories.csv",
}
REVENUE = "unitPrice * quantity * (1 - discount)"
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]


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
    """The platform with the built-in provider only."""
    async for http in _client(_settings(migrated)):
        yield http


@pytest.fixture
async def scripted(migrated: Settings, stub: OpenAIStub) -> AsyncIterator[httpx.AsyncClient]:
    """The platform with an OpenAI-compatible provider (the stub) first."""
    stub.reset()
    provider = ModelProviderSettings(name="stub", base_url=stub.url, model="stub", timeout_s=10)
    async for http in _client(_settings(migrated, providers=[provider])):
        yield http


async def northwind(
    client: httpx.AsyncClient, owner: Account, names: tuple[str, ...], profiled: tuple[str, ...]
) -> dict[str, str]:
    """Northwind tables as the owner's datasets (rows that do not parse left out), some
    profiled."""
    ids = {}
    for name in names:
        file_id = await put_file(client, owner, FILES[name], (NORTHWIND / FILES[name]).read_bytes())
        made = await create(client, owner, name, file_id, on_invalid_rows="skip")
        assert made.status_code == 201, made.text
        ids[name] = made.json()["id"]
        if name in profiled:
            profile = f"/api/v1/datasets/{ids[name]}/profile"
            done = await client.post(profile, headers=owner.headers())
            assert done.status_code == 200, done.text
    return ids


async def layer_call(
    client: httpx.AsyncClient, who: Account, method: str, path: str = "", **kwargs: Any
) -> httpx.Response:
    return await client.request(
        method, f"/api/v1/semantic-layer{path}", headers=who.headers(), **kwargs
    )


def dataset(layer: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(d for d in layer["datasets"] if d["name"] == name)
    return found


def column(layer: dict[str, Any], table: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in dataset(layer, table)["columns"] if c["name"] == name)
    return found


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == code, body
    return body


def revenue_layer(base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with a person's edits: the revenue measure (the draft's, described and given
    synonyms), a dataset and a column synonym, and a verified query."""
    layer = copy.deepcopy(base)
    drafted = [m for m in layer["measures"] if m["name"] != "revenue"]
    layer["measures"] = [
        *drafted,
        {
            "name": "revenue",
            "dataset": "order_details",
            "expression": REVENUE,
            "aggregation": "sum",
            "synonyms": ["sales", "turnover"],
            "description": "What the order lines brought in, discounts taken off.",
        },
    ]
    products = dataset(layer, "products")
    products["synonyms"] = [*products["synonyms"], "merchandise"]
    column(layer, "products", "unitPrice")["synonyms"].append("retail price")
    layer["verified_queries"] = [
        {
            "question": "which products are discontinued",
            "sql": "SELECT productName FROM products WHERE discontinued = 1 ORDER BY productName",
        }
    ]
    return layer


def order_lines() -> list[dict[str, str]]:
    with (NORTHWIND / "order-details.csv").open() as handle:
        return list(csv.DictReader(handle))


async def test_draft_edit_confirm_versions_and_validation(client: httpx.AsyncClient) -> None:
    owner = await register(client, "modeler")
    error(await layer_call(client, owner, "GET"), 404, "semantic_layer_not_found")
    error(await layer_call(client, owner, "POST", "/confirm"), 404, "semantic_layer_not_found")
    await northwind(client, owner, tuple(FILES), profiled=("products",))

    drafted = await layer_call(client, owner, "POST", "/draft")
    assert drafted.status_code == 200, drafted.text
    first = drafted.json()
    assert (first["version"], first["status"], first["source"], first["in_use"]) == (
        1,
        "draft",
        "draft",
        False,
    )
    layer = first["layer"]
    assert {d["name"] for d in layer["datasets"]} == set(FILES)
    # Names split from camelCase and snake_case, with synonyms.
    assert dataset(layer, "order_details")["business_name"] == "order details"
    assert {"product", "items"} <= set(dataset(layer, "products")["synonyms"])
    unit_price = column(layer, "products", "unitPrice")
    assert (unit_price["business_name"], unit_price["role"]) == ("unit price", "measure_source")
    assert "cost" in unit_price["synonyms"]
    # Roles: 0/1 (from the profile) a boolean, dates time dimensions, ...ID identifiers.
    discontinued = column(layer, "products", "discontinued")
    assert (discontinued["role"], discontinued["true_values"], discontinued["false_values"]) == (
        "boolean",
        ["1"],
        ["0"],
    )
    assert column(layer, "orders", "orderDate")["role"] == "time_dimension"
    assert column(layer, "order_details", "productID")["role"] == "identifier"
    assert column(layer, "categories", "categoryName")["role"] == "dimension"
    # Relationships from key names.
    relationships = {
        (r["from_dataset"], r["from_column"], r["to_dataset"], r["to_column"])
        for r in layer["relationships"]
    }
    assert {
        ("order_details", "productID", "products", "productID"),
        ("order_details", "orderID", "orders", "orderID"),
        ("products", "categoryID", "categories", "categoryID"),
    } <= relationships
    # A measure for each numeric column: summed, or averaged for a price.
    measures = {m["name"]: m for m in layer["measures"]}
    assert (measures["total_quantity"]["dataset"], measures["total_quantity"]["aggregation"]) == (
        "order_details",
        "sum",
    )
    assert measures["average_products_unit_price"]["aggregation"] == "avg"
    assert measures["total_freight"]["expression"] == "freight"
    assert layer["verified_queries"] == []

    current = await layer_call(client, owner, "GET")
    assert current.status_code == 200 and current.json()["version"] == 1

    # A person's edit: a new version, a draft until confirmed.
    edited_layer = revenue_layer(layer)
    edited = await layer_call(client, owner, "PUT", json={**edited_layer, "based_on": 1})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["version"], edited.json()["status"], edited.json()["source"]) == (
        2,
        "draft",
        "edit",
    )
    stale = await layer_call(client, owner, "PUT", json={**edited_layer, "based_on": 1})
    assert error(stale, 409, "semantic_layer_conflict")["details"]["current_version"] == 2

    # Validation on the engine: the entry named, the engine's message.
    wrong = {
        **edited_layer,
        "measures": [
            *edited_layer["measures"],
            {"name": "bad", "dataset": "order_details", "expression": "unitPrice * price2"},
        ],
    }
    body = error(await layer_call(client, owner, "PUT", json=wrong), 422, "semantic_invalid")
    assert "price2" in body["message"] and body["details"]["engine_code"] == "sql_invalid"
    assert body["details"]["where"] == f"measures[{len(wrong['measures']) - 1}]"
    files = {
        **edited_layer,
        "measures": [
            {
                "name": "sneaky",
                "dataset": "products",
                "expression": "length(read_text('/etc/passwd'))",
            }
        ],
    }
    body = error(await layer_call(client, owner, "PUT", json=files), 422, "semantic_invalid")
    assert body["details"]["engine_code"] == "sql_function_not_allowed"
    nested = {
        **edited_layer,
        "measures": [{"name": "double", "dataset": "products", "expression": "sum(unitPrice)"}],
    }
    error(await layer_call(client, owner, "PUT", json=nested), 422, "semantic_invalid")
    query = {
        **edited_layer,
        "verified_queries": [{"question": "q", "sql": "SELECT nothing FROM products"}],
    }
    body = error(await layer_call(client, owner, "PUT", json=query), 422, "semantic_invalid")
    assert body["details"]["where"] == "verified_queries[0]"
    unknown = {
        **edited_layer,
        "relationships": [
            {
                "from_dataset": "order_details",
                "from_column": "productID",
                "to_dataset": "suppliers",
                "to_column": "supplierID",
            }
        ],
    }
    error(await layer_call(client, owner, "PUT", json=unknown), 422, "semantic_invalid")
    column_gone = revenue_layer(layer)
    dataset(column_gone, "products")["columns"].append({"name": "colour"})
    error(await layer_call(client, owner, "PUT", json=column_gone), 422, "semantic_invalid")
    assert (await layer_call(client, owner, "GET")).json()["version"] == 2  # nothing saved

    # Confirmation: of the current version only.
    mismatch = await layer_call(client, owner, "POST", "/confirm", json={"version": 1})
    error(mismatch, 409, "semantic_layer_conflict")
    confirmed = await layer_call(client, owner, "POST", "/confirm", json={"version": 2})
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["status"], confirmed.json()["in_use"]) == ("confirmed", True)
    assert confirmed.json()["confirmed_by"]
    again = await layer_call(client, owner, "POST", "/confirm")
    assert again.status_code == 200 and again.json()["version"] == 2

    # A new draft keeps what people wrote.
    redrafted = (await layer_call(client, owner, "POST", "/draft")).json()
    assert (redrafted["version"], redrafted["status"], redrafted["in_use"]) == (3, "draft", False)
    assert "revenue" in {m["name"] for m in redrafted["layer"]["measures"]}
    assert "merchandise" in dataset(redrafted["layer"], "products")["synonyms"]
    assert redrafted["layer"]["verified_queries"] == edited_layer["verified_queries"]

    # The history, newest first, paged; the confirmed version is the one in use.
    page = (await layer_call(client, owner, "GET", "/versions", params={"limit": 2})).json()
    assert [(v["version"], v["status"], v["in_use"]) for v in page["items"]] == [
        (3, "draft", False),
        (2, "confirmed", True),
    ]
    rest = await layer_call(
        client, owner, "GET", "/versions", params={"limit": 2, "cursor": page["next_cursor"]}
    )
    assert [v["version"] for v in rest.json()["items"]] == [1]
    assert rest.json()["next_cursor"] is None


async def test_roles_and_other_workspaces(client: httpx.AsyncClient) -> None:
    owner = await register(client, "owner")
    await northwind(client, owner, ("categories",), profiled=())
    assert (await layer_call(client, owner, "POST", "/draft")).status_code == 200
    viewer = await add_member(client, owner, "viewer")
    editor = await add_member(client, owner, "editor")
    seen = await layer_call(client, viewer, "GET")
    assert seen.status_code == 200
    document = seen.json()["layer"]
    error(await layer_call(client, viewer, "PUT", json=document), 403, "forbidden")
    error(await layer_call(client, viewer, "POST", "/draft"), 403, "forbidden")
    error(await layer_call(client, viewer, "POST", "/confirm"), 403, "forbidden")
    assert (await layer_call(client, viewer, "GET", "/versions")).status_code == 200
    assert (await layer_call(client, editor, "PUT", json=document)).status_code == 200
    assert (await layer_call(client, editor, "POST", "/confirm")).status_code == 200

    stranger = await register(client, "stranger")
    error(await layer_call(client, stranger, "GET"), 404, "semantic_layer_not_found")
    assert (await layer_call(client, stranger, "GET", "/versions")).json()["items"] == []
    # The owner's workspace, asked for by name: it does not exist for the stranger.
    response = await client.get(
        "/api/v1/semantic-layer", headers=stranger.headers(owner.workspace_id)
    )
    assert response.status_code == 404, response.text
    # The owner's datasets are not the stranger's to describe.
    error(await layer_call(client, stranger, "PUT", json=document), 422, "semantic_invalid")


async def test_a_layer_measure_answers_through_the_builtin_provider(
    client: httpx.AsyncClient,
) -> None:
    owner = await register(client, "analyst")
    await northwind(client, owner, ("products", "order_details"), profiled=())
    layer = (await layer_call(client, owner, "POST", "/draft")).json()["layer"]
    saved = await layer_call(client, owner, "PUT", json=revenue_layer(layer))
    assert saved.status_code == 200, saved.text

    # A draft is not used: the built-in provider does not know `revenue` yet.
    before = await ask(client, owner, "total revenue")
    assert before["status"] == "not_understood", before
    assert (await layer_call(client, owner, "POST", "/confirm")).status_code == 200

    lines = order_lines()
    by_product: dict[int, float] = defaultdict(float)
    for line in lines:
        value = float(line["unitPrice"]) * int(line["quantity"]) * (1 - float(line["discount"]))
        by_product[int(line["productID"])] += value
    total = await ask(client, owner, "total revenue")
    assert total["status"] == "completed", total
    [[answer]] = values(total)
    assert abs(answer - sum(by_product.values())) < 1e-6 * sum(by_product.values())
    assert "unitPrice" in total["table"]["sql"] and "discount" in total["table"]["sql"]

    # "How this was read" names the layer entries the answer used.
    assert total["reading"]["layer"]["measures"] == [f"revenue = SUM({REVENUE})"]
    assert total["table"]["chart"] == {"kind": "number", "x": None, "y": "revenue"}

    top = await ask(client, owner, "top 3 products by sales")
    assert top["status"] == "completed", top
    used = top["reading"]["layer"]
    assert used["measures"] == [f"revenue = SUM({REVENUE})"]
    assert "sales: the measure revenue" in used["synonyms"]
    expected = sorted(by_product.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    got = [(row["productID"], row["revenue"]) for row in top["table"]["rows"]]
    assert [p for p, _ in got] == [p for p, _ in expected]
    assert all(abs(g - e) < 1e-6 * e for (_, g), (_, e) in zip(got, expected, strict=True))

    # The layer's synonyms of a dataset and a column.
    count = await ask(client, owner, "how many merchandise")
    assert values(count) == [(77,)]
    price = await ask(client, owner, "average retail price of merchandise")
    assert price["status"] == "completed", price
    assert "unitPrice" in price["table"]["sql"]


async def test_the_model_is_given_the_layer_and_its_verified_queries(
    scripted: httpx.AsyncClient, stub: OpenAIStub
) -> None:
    owner = await register(scripted, "analyst")
    await northwind(scripted, owner, ("products", "order_details"), profiled=("products",))
    layer = (await layer_call(scripted, owner, "POST", "/draft")).json()["layer"]
    assert (await layer_call(scripted, owner, "PUT", json=revenue_layer(layer))).status_code == 200
    assert (await layer_call(scripted, owner, "POST", "/confirm")).status_code == 200

    stub.reply("stub", content="Revenue is the sum of unit price times quantity.")
    answer = await ask(scripted, owner, "what was our turnover")
    assert answer["status"] == "completed", answer
    [request] = stub.requests_for("stub")
    system = request["messages"][0]["content"]
    # The layer: names, synonyms, roles, measures, relationships.
    assert '"unit price"' in system and "retail price" in system and "merchandise" in system
    assert "boolean; true=1; false=0" in system
    assert "revenue [also: sales, turnover] = SUM(unitPrice * quantity * (1 - discount))" in (
        system
    )
    assert "order_details.productID = products.productID" in system
    # The verified query as an example: its question and its SQL.
    assert "Q: which products are discontinued" in system
    assert (
        "SQL: SELECT productName FROM products WHERE discontinued = 1 ORDER BY productName"
        in system
    )


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
