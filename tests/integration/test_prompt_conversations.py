"""Prompt Studio conversations through the API, on Ray, with the built-in provider: the five
follow-up patterns (a grouping, a filter, the top N, another value, `why?`) over Northwind's
orders and the Palmer penguins, each answer checked against the same question asked whole or
against the data read with the csv module; a clarifying question answered in the next turn;
follow-ups that cannot be read are said so; the listing of conversations is governed as the
history is; another workspace's conversation does not exist."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import AsyncIterator
from importlib.resources import files
from typing import Any

import httpx
import pytest

from rivergen.settings import Settings
from tests.conftest import SHARED_DATA
from tests.integration.api_client import Account, add_member, register
from tests.integration.ray_cluster import ray_local
from tests.integration.test_datasets_api import create, put_file
from tests.platform_app import create_app

NORTHWIND = SHARED_DATA / "northwind"
PENGUINS = files("palmerpenguins") / "data" / "penguins.csv"
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]


@pytest.fixture
async def client(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    app = create_app(migrated.model_copy(update={"gateway": gateway}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", timeout=120
        ) as http:
            yield http


async def dataset(
    client: httpx.AsyncClient, owner: Account, name: str, filename: str, data: bytes
) -> str:
    """``data`` as the owner's dataset ``name`` (rows that do not parse left out), profiled
    so that the catalog hints its values."""
    file_id = await put_file(client, owner, filename, data)
    made = await create(client, owner, name, file_id, on_invalid_rows="skip")
    assert made.status_code == 201, made.text
    ident = str(made.json()["id"])
    profiled = await client.post(f"/api/v1/datasets/{ident}/profile", headers=owner.headers())
    assert profiled.status_code == 200, profiled.text
    return ident


async def say(
    client: httpx.AsyncClient, who: Account, question: str, conversation: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"question": question}
    if conversation is not None:
        body["conversation_id"] = conversation
    response = await client.post("/api/v1/prompts/execute", json=body, headers=who.headers())
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    if conversation is not None:
        assert answer["conversation_id"] == conversation
    return answer


def values(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    assert body["status"] == "completed", (body["status"], body["answer"], body["error"])
    table = body["table"]
    assert table is not None, [(t["status"], t["error"], t["summary"]) for t in body["turns"]]
    return [tuple(row[c] for c in table["columns"]) for row in table["rows"]]


async def test_follow_ups_over_northwind_orders(client: httpx.AsyncClient) -> None:
    owner = await register(client, "analyst")
    await dataset(client, owner, "orders", "orders.csv", (NORTHWIND / "orders.csv").read_bytes())

    first = await say(client, owner, "how many orders from France")
    conversation = first["conversation_id"]
    assert conversation is not None
    [(france,)] = values(first)
    assert france > 0
    assert first["table"]["chart"]["kind"] == "number"

    # Another value: the filter's value swapped, as if the whole question were asked.
    germany = await say(client, owner, "what about Germany?", conversation)
    assert values(germany) == values(await say(client, owner, "how many orders from Germany"))
    assert values(germany) != [(france,)]
    assert "France" not in germany["table"]["sql"]

    # A filter added to the previous reading.
    in_1997 = await say(client, owner, "only 1997", conversation)
    assert values(in_1997) == values(
        await say(client, owner, "how many orders from Germany in 1997")
    )
    [(total_1997,)] = values(in_1997)
    assert 0 < total_1997 < values(germany)[0][0]

    # A grouping added: the same orders, by city.
    by_city = await say(client, owner, "and by ship city?", conversation)
    rows = values(by_city)
    assert by_city["table"]["columns"] == ["shipCity", "number_of_orders"]
    assert sum(n for _, n in rows) == total_1997 and len(rows) > 2
    assert by_city["table"]["chart"] == {"kind": "bar", "x": "shipCity", "y": "number_of_orders"}

    # The top N: the largest groups of the previous answer.
    top = await say(client, owner, "show the top 2 instead", conversation)
    assert values(top) == sorted(rows, key=lambda r: (-r[1], r[0]))[:2]

    # Why: how the previous answer was read and computed.
    why = await say(client, owner, "why?", conversation)
    assert why["status"] == "completed" and why["turns"] == []
    assert top["reading"]["sql"] in why["answer"]
    assert "read as" in why["answer"] and "germany" in why["answer"].lower()

    # A follow-up that cannot be read is said so, not guessed.
    lost = await say(client, owner, "and by banana?", conversation)
    assert lost["status"] == "not_understood" and lost["turns"] == []

    # The conversation, its turns in order.
    listed = await client.get(
        f"/api/v1/prompts/conversations/{conversation}", headers=owner.headers()
    )
    assert listed.status_code == 200, listed.text
    detail = listed.json()
    assert [t["question"] for t in detail["turns"]] == [
        "how many orders from France",
        "what about Germany?",
        "only 1997",
        "and by ship city?",
        "show the top 2 instead",
        "why?",
        "and by banana?",
    ]
    assert detail["turn_count"] == 7 and detail["title"] == "how many orders from France"


def penguins() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(PENGUINS.read_text())))


def mean_mass(rows: list[dict[str, str]]) -> float:
    masses = [float(r["body_mass_g"]) for r in rows if r["body_mass_g"] != "NA"]
    return sum(masses) / len(masses)


async def test_follow_ups_over_the_penguins(client: httpx.AsyncClient) -> None:
    owner = await register(client, "biologist")
    await dataset(client, owner, "penguins", "penguins.csv", PENGUINS.read_bytes())
    rows = penguins()

    first = await say(client, owner, "average body mass of Adelie penguins")
    conversation = first["conversation_id"]
    [(adelie,)] = values(first)
    assert adelie == pytest.approx(mean_mass([r for r in rows if r["species"] == "Adelie"]))

    gentoo = await say(client, owner, "what about Gentoo?", conversation)
    gentoos = [r for r in rows if r["species"] == "Gentoo"]
    assert values(gentoo) == [(pytest.approx(mean_mass(gentoos)),)]

    female = await say(client, owner, "only female", conversation)
    females = [r for r in gentoos if r["sex"] == "female"]
    assert values(female) == [(pytest.approx(mean_mass(females)),)]

    by_year = await say(client, owner, "and by year?", conversation)
    expected: dict[int, list[dict[str, str]]] = defaultdict(list)
    for row in females:
        expected[int(row["year"])].append(row)
    got = values(by_year)
    assert got == [(y, pytest.approx(mean_mass(expected[y]))) for y in sorted(expected)]
    assert by_year["table"]["chart"]["kind"] == "line"

    top = await say(client, owner, "show the top 1 instead", conversation)
    assert values(top) == [max(got, key=lambda r: r[1])]

    why = await say(client, owner, "why?", conversation)
    assert "Gentoo" in why["answer"] and "female" in why["answer"]
    assert top["reading"]["sql"] in why["answer"]

    # "What about" needs a filter to change: another island is not guessed into one.
    lost = await say(client, owner, "what about Narnia?", conversation)
    assert lost["status"] == "not_understood"


async def test_a_clarifying_question_is_answered_in_the_next_turn(
    client: httpx.AsyncClient,
) -> None:
    owner = await register(client, "hr")
    data = (NORTHWIND / "employees.csv").read_bytes()
    await dataset(client, owner, "employees", "employees.csv", data)
    people = list(csv.DictReader(io.StringIO(data.decode())))

    first = await say(client, owner, "how many employees")
    conversation = first["conversation_id"]
    assert values(first) == [(len(people),)]
    asked = await say(client, owner, "only 1993", conversation)
    assert asked["status"] == "needs_clarification", asked
    clarification = asked["reading"]["clarification"]
    assert clarification["options"] == ["employees.birthDate", "employees.hireDate"]
    assert asked["turns"] == [] and "hireDate" in asked["answer"]

    picked = await say(client, owner, "hire date", conversation)
    hired = [p for p in people if p["hireDate"].startswith("1993")]
    assert values(picked) == [(len(hired),)] and hired
    assert "hireDate" in picked["table"]["sql"] and "birthDate" not in picked["table"]["sql"]

    # An answer by its place in the list works alike.
    await say(client, owner, "how many employees", conversation)
    await say(client, owner, "only 1993", conversation)
    second = await say(client, owner, "the second one", conversation)
    assert values(second) == [(len(hired),)]


async def test_conversations_are_listed_governed_and_kept_to_their_workspace(
    client: httpx.AsyncClient,
) -> None:
    owner = await register(client, "owner")
    viewer = await add_member(client, owner, "viewer")
    orders = await dataset(
        client, owner, "orders", "orders.csv", (NORTHWIND / "orders.csv").read_bytes()
    )
    first = await say(client, owner, "how many orders from Germany")
    conversation = first["conversation_id"]
    await say(client, owner, "what about France?", conversation)

    listed = await client.get("/api/v1/prompts/conversations?limit=1", headers=owner.headers())
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert item["id"] == conversation and item["turn_count"] == 2
    assert item["last"]["question"] == "what about France?"
    assert item["last"]["table"]["rows"] and not item["last"]["rows_withheld"]

    # A viewer whose policy filters the orders sees the turns without their rows.
    policy = {
        "name": "no 1996",
        "dataset_id": orders,
        "roles": ["viewer"],
        "rule": {
            "type": "row_filter",
            "filters": [{"column": "orderDate", "op": ">=", "value": "1997-01-01"}],
        },
    }
    made = await client.post("/api/v1/policies", json=policy, headers=owner.headers())
    assert made.status_code == 201, made.text
    seen = (await client.get("/api/v1/prompts/conversations", headers=viewer.headers())).json()
    [mine] = [c for c in seen["items"] if c["id"] == conversation]
    assert mine["last"]["rows_withheld"] and mine["last"]["table"]["rows"] == []
    detail = (
        await client.get(f"/api/v1/prompts/conversations/{conversation}", headers=viewer.headers())
    ).json()
    assert all(t["rows_withheld"] and t["table"]["rows"] == [] for t in detail["turns"])
    # Following up under the viewer's own policies computes under them.
    again = await say(client, viewer, "what about Germany?", conversation)
    [(filtered,)] = values(again)
    assert 0 < filtered < values(first)[0][0]

    # Another workspace: no such conversation.
    stranger = await register(client, "stranger")
    for response in (
        await client.get(
            f"/api/v1/prompts/conversations/{conversation}", headers=stranger.headers()
        ),
        await client.post(
            "/api/v1/prompts/execute",
            headers=stranger.headers(),
            json={"question": "what about Spain?", "conversation_id": conversation},
        ),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "conversation_not_found"
    theirs = await client.get("/api/v1/prompts/conversations", headers=stranger.headers())
    assert theirs.json()["items"] == []
