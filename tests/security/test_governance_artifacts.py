"""Governance of what is derived from datasets and kept: models, decisions, simulations,
monitoring reports, job summaries, counts in metadata and events, row limits on profiles and
quality samples, and copies of a governed source under a new id.

Through the gateway app on the real services (Postgres, S3, Kafka's outbox, Ray), on Northwind's
products. Three roles: the owner ungoverned, the editor with a row filter (suppliers 1 to 15),
the viewer with a mask (the packaging, ``quantityPerUnit``). A reader is shown what was computed
under the owner's policies only when their own policies hide no more of its data.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID

import httpx
import pyarrow.csv as pacsv
import pytest
from fastapi import FastAPI

from compute.decisions import RayDecisionCompute
from rivergen.agents.dia import SimulationRunner
from rivergen.db import Database
from rivergen.settings import Settings
from tests.conftest import SHARED_DATA
from tests.integration.api_client import Account, new_team
from tests.integration.ray_cluster import ray_local
from tests.integration.test_datasets_api import create, put_file
from tests.integration.test_jobs_api import submit, wait_for
from tests.platform_app import create_app, services
from tests.security.test_governance_raw_and_masks import csv_server

NORTHWIND = SHARED_DATA / "northwind"
PRODUCTS = NORTHWIND / "products.csv"
ROWS = 77
SUPPLIERS = {"type": "row_filter", "filters": [{"column": "supplierID", "op": "<=", "value": 15}]}
PACKAGING = {"type": "mask", "columns": ["quantityPerUnit"], "method": "redact"}
DERIVED = "derived_from_governed_data"
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]


@pytest.fixture(scope="module")
def http_base() -> Iterator[str]:
    with csv_server() as base:
        yield base


@pytest.fixture
def app_settings(migrated: Settings, http_base: str) -> Settings:
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    jobs = migrated.jobs.model_copy(
        # Progress written as often as it comes: every message that goes out is checked.
        update={"heartbeat_interval_s": 0.5, "progress_interval_s": 0.01}
    )
    connectors = migrated.connectors.model_copy(
        update={"http_allow_hosts": [http_base.removeprefix("http://")]}
    )
    return migrated.model_copy(update={"gateway": gateway, "jobs": jobs, "connectors": connectors})


@pytest.fixture
async def app(app_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(app_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw", timeout=120) as c:
        yield c


def products() -> list[dict[str, Any]]:
    return list(pacsv.read_csv(PRODUCTS).to_pylist())


async def add_policy(client: httpx.AsyncClient, admin: Account, **body: Any) -> None:
    made = await client.post("/api/v1/policies", json=body, headers=admin.headers())
    assert made.status_code == 201, made.text


async def governed_products(client: httpx.AsyncClient) -> tuple[dict[str, Account], str]:
    """A team and its products: the editor sees suppliers 1 to 15, the viewer's packaging is
    redacted; the owner (and the admin) see everything."""
    people = await new_team(client)
    file_id = await put_file(client, people["owner"], "products.csv", PRODUCTS.read_bytes())
    made = await create(client, people["owner"], "products", file_id)
    assert made.status_code == 201, made.text
    dataset = str(made.json()["id"])
    await add_policy(
        client,
        people["owner"],
        name="suppliers",
        dataset_id=dataset,
        roles=["editor"],
        rule=SUPPLIERS,
    )
    await add_policy(
        client,
        people["owner"],
        name="packaging",
        dataset_id=dataset,
        roles=["viewer"],
        rule=PACKAGING,
    )
    return people, dataset


def numeric(column: str) -> dict[str, str]:
    return {"column": column, "encoding": "numeric"}


async def train(
    client: httpx.AsyncClient,
    who: Account,
    dataset: str,
    features: list[dict[str, Any]],
    awaited_by: Account | None = None,
) -> tuple[str, str]:
    """A model of ``discontinued`` trained by ``who`` (its champion deployed): model and job.
    With ``awaited_by``, that member waits for the job's end while it runs (``GET
    /jobs/{id}?wait_s=``, answered from the end's announcement), and gets what its own plain
    read of the ended job shows."""
    body = {
        "name": f"m-{uuid.uuid4().hex[:8]}",
        "dataset": dataset,
        "target": "discontinued",
        "task": "classification",
        "features": features,
        "challengers": [],
    }
    accepted = await client.post("/api/v1/models", json=body, headers=who.headers())
    assert accepted.status_code == 202, accepted.text
    job = str(accepted.json()["job_id"])
    if awaited_by is not None:
        awaited = await client.get(
            f"/api/v1/jobs/{job}", params={"wait_s": 60}, headers=awaited_by.headers()
        )
        plain = await client.get(f"/api/v1/jobs/{job}", headers=awaited_by.headers())
        assert awaited.status_code == plain.status_code == 200, awaited.text
        assert awaited.json() == plain.json()
    done = await wait_for(client, who, job, timeout_s=180)
    assert done["state"] == "succeeded", done
    model = str(accepted.json()["model_id"])
    deployed = await client.post(f"/api/v1/models/{model}/deploy", headers=who.headers())
    assert deployed.status_code == 200, deployed.text
    return model, job


def refused(response: httpx.Response, code: str = DERIVED) -> bool:
    return response.status_code == 403 and response.json()["error"]["code"] == code


async def predict(client: httpx.AsyncClient, who: Account, model: str) -> httpx.Response:
    row = {"unitPrice": 18.0, "unitsInStock": 39, "quantityPerUnit": "10 boxes x 20 bags"}
    return await client.post(
        f"/api/v1/models/{model}/predict",
        json={"rows": [row], "explain": True},
        headers=who.headers(),
    )


async def outbox(db: Database, workspace: str, kind: str) -> list[dict[str, Any]]:
    """The data of the events of ``kind`` the workspace's outbox holds, oldest first."""
    async with db.transaction() as conn:
        rows = await conn.fetch(
            "SELECT payload FROM event_outbox WHERE payload::jsonb->>'type' = $1 "
            "AND payload::jsonb->>'workspace_id' = $2 ORDER BY id",
            kind,
            workspace,
        )
    return [json.loads(r["payload"])["data"] for r in rows]


async def test_models_trained_on_what_a_reader_may_not_see_are_not_theirs(
    client: httpx.AsyncClient, db: Database
) -> None:
    people, dataset = await governed_products(client)
    owner, editor, viewer = (people[r] for r in ("owner", "editor", "viewer"))
    # The owner's models: over every row; one of them learnt the packaging too. The editor,
    # who sees fewer products, waits for the first one's training to end.
    prices, prices_job = await train(
        client, owner, dataset, [numeric("unitPrice"), numeric("unitsInStock")], editor
    )
    packaging, _ = await train(
        client,
        owner,
        dataset,
        [
            {"column": "quantityPerUnit", "encoding": "one_hot"},
            numeric("unitPrice"),
        ],
    )
    # The editor's: over the rows the editor sees.
    mine, _ = await train(client, editor, dataset, [numeric("unitPrice"), numeric("unitsInStock")])

    # Predictions: a model is shown to whom its training data is no more hidden than to its
    # trainer (the same policies, or looser ones).
    for role, model, allowed in (
        ("owner", prices, True),
        ("admin", prices, True),
        ("viewer", prices, True),
        ("editor", prices, False),  # trained over suppliers the editor may not see
        ("owner", packaging, True),
        ("viewer", packaging, False),  # learnt the masked packaging
        ("editor", packaging, False),
        ("editor", mine, True),
        ("owner", mine, True),
        ("viewer", mine, True),  # looser
    ):
        response = await predict(client, people[role], model)
        if allowed:
            assert response.status_code == 200, (role, model, response.text)
            assert 0.0 <= response.json()["predictions"][0]["score"] <= 1.0
        else:
            assert refused(response), (role, model, response.text)

    # The registry keeps the versions visible, their metrics only to those the model is for.
    for role, model, withheld in (
        ("owner", prices, False),
        ("editor", prices, True),
        ("viewer", packaging, True),
        ("viewer", prices, False),
        ("editor", mine, False),
    ):
        who = people[role]
        got = await client.get(f"/api/v1/models/{model}", headers=who.headers())
        assert got.status_code == 200, got.text
        [version] = got.json()["versions"]
        assert version["data_withheld"] is withheld, (role, model)
        assert version["features"] and version["dataset_id"] == dataset
        assert ("accuracy" in version["metrics"]) is not withheld, version
        if role != "viewer":  # deploying is for editors
            deployed = await client.post(f"/api/v1/models/{model}/deploy", headers=who.headers())
            assert deployed.json()["data_withheld"] is withheld

    # The training job's summary (the champion's metrics) follows its result's governance.
    seen = await client.get(f"/api/v1/jobs/{prices_job}", headers=owner.headers())
    hidden = await client.get(f"/api/v1/jobs/{prices_job}", headers=editor.headers())
    assert "metrics" in seen.json()["result"]["summary"]
    assert hidden.json()["result"]["summary"] == {}
    listed = await client.get("/api/v1/jobs", headers=editor.headers())
    [item] = [j for j in listed.json()["items"] if j["id"] == prices_job]
    assert item["result"]["summary"] == {}
    # What every member hears carries no metrics or counts of the governed products.
    trained = await outbox(db, owner.workspace_id, "model.trained")
    assert len(trained) == 3 and all(t["metrics"] == {} for t in trained)
    completed = await outbox(db, owner.workspace_id, "job.completed")
    assert len(completed) == 3
    assert all(c["result"]["row_count"] is None and c["result"]["summary"] == {} for c in completed)
    # (progress is sampled: whichever messages went out hold no count or objective)
    messages = [p["message"] for p in await outbox(db, owner.workspace_id, "job.progress")]
    assert messages
    assert not any(char.isdigit() for m in messages if "loaded" in m for char in m)
    assert not any(":" in m.split("iteration")[-1] for m in messages if "iteration" in m)

    # Monitoring: the owner's report is the owner's data; the editor checks for itself.
    body = {"dataset_id": dataset}
    report = await client.post(
        f"/api/v1/models/{prices}/monitoring", json=body, headers=owner.headers()
    )
    assert report.status_code == 201, report.text
    assert report.json()["performance"] is not None and report.json()["drift"] is not None
    for who, withheld in ((owner, False), (viewer, False), (editor, True)):
        history = await client.get(f"/api/v1/models/{prices}/monitoring", headers=who.headers())
        assert history.status_code == 200, history.text
        [item] = history.json()["items"]
        assert item["id"] == report.json()["id"] and item["data_withheld"] is withheld
        assert (item["drift"] is None) is withheld and (item["performance"] is None) is withheld
    own = await client.post(
        f"/api/v1/models/{prices}/monitoring", json=body, headers=editor.headers()
    )
    assert own.status_code == 201, own.text
    assert own.json()["drift"]["current_rows"] < ROWS  # the rows the editor sees
    assert own.json()["performance"] is None and "policies" in own.json()["performance_note"]


async def test_decisions_and_simulations_are_withheld_from_readers_governed_otherwise(
    app: FastAPI, client: httpx.AsyncClient, db: Database, app_settings: Settings
) -> None:
    people, dataset = await governed_products(client)
    owner, admin, editor, viewer = (people[r] for r in ("owner", "admin", "editor", "viewer"))
    await add_policy(
        client,
        owner,
        name="five rows",
        roles=["admin"],
        rule={"type": "query_limit", "max_rows": 5},
    )
    model, _ = await train(client, owner, dataset, [numeric("unitPrice"), numeric("unitsInStock")])
    rows = products()
    far = next(i for i, r in enumerate(rows) if r["supplierID"] > 15)  # hidden from the editor

    made = await client.post(
        "/api/v1/decisions/analyze",
        headers=owner.headers(),
        json={
            "model_id": model,
            "dataset_id": dataset,
            "row_index": far,
        },
    )
    assert made.status_code == 200, made.text
    decision = made.json()
    assert decision["features"]["productName"] == rows[far]["productName"]
    assert decision["outcome"] is not None and decision["data_withheld"] is False
    for who, withheld in ((owner, False), (admin, False), (editor, True), (viewer, True)):
        got = await client.get(f"/api/v1/decisions/{decision['id']}", headers=who.headers())
        assert got.status_code == 200, got.text
        view = got.json()
        assert view["data_withheld"] is withheld, who.email
        assert view["model_id"] == model and view["dataset_id"] == dataset
        assert view["created_by"] == decision["created_by"]
        listed = await client.get("/api/v1/decisions", headers=who.headers())
        assert listed.json()["items"] == [view]
        if withheld:
            assert view["features"] == {} and view["score"] is None and view["outcome"] is None
            assert view["explanation"] is None
            assert rows[far]["productName"] not in got.text
        else:
            assert view == decision
    # The editor may not have the owner's model score a case (its own features or not).
    case = {"unitPrice": 18.0, "unitsInStock": 39}
    scored = await client.post(
        "/api/v1/decisions/analyze",
        headers=editor.headers(),
        json={"model_id": model, "features": case},
    )
    assert refused(scored), scored.text
    [made_event] = await outbox(db, owner.workspace_id, "decision.made")
    assert made_event["decision_id"] == decision["id"]
    assert "outcome" not in made_event and "score" not in made_event

    # A simulation over every row the owner sees, run as the worker runs it.
    queued = await client.post(
        "/api/v1/decisions/simulate",
        headers=owner.headers(),
        json={"model_id": model, "dataset_id": dataset},
    )
    assert queued.status_code == 202, queued.text
    agent = services(app).decisions
    runner = SimulationRunner(db, agent, RayDecisionCompute(app_settings))
    done = await runner.run(UUID(owner.workspace_id), UUID(queued.json()["id"]))
    assert done is not None and done.status == "completed", done
    url = f"/api/v1/decisions/simulations/{queued.json()['id']}"
    mine = (await client.get(url, headers=owner.headers())).json()
    assert mine["result"]["rows"] == ROWS and len(mine["result"]["row_outcomes"]) == ROWS
    assert sum(mine["result"]["outcome_counts"].values()) == ROWS
    for who in (editor, viewer):
        theirs = (await client.get(url, headers=who.headers())).json()
        assert theirs["data_withheld"] is True and theirs["result"] is None, who.email
        assert theirs["status"] == "completed" and theirs["model_id"] == model
    # The admin is governed alike but for a row limit: the rows listed are capped by it.
    capped = (await client.get(url, headers=admin.headers())).json()
    assert capped["data_withheld"] is False
    assert capped["result"]["row_outcomes"] == mine["result"]["row_outcomes"][:5]
    assert capped["result"]["outcome_counts"] == mine["result"]["outcome_counts"]


async def test_counts_of_datasets_whose_rows_a_reader_may_not_see_are_not_given(
    client: httpx.AsyncClient, db: Database
) -> None:
    people, dataset = await governed_products(client)
    owner, editor, viewer = people["owner"], people["editor"], people["viewer"]
    for who, count in ((owner, ROWS), (viewer, ROWS), (editor, None)):
        got = await client.get(f"/api/v1/datasets/{dataset}", headers=who.headers())
        assert got.status_code == 200, got.text
        assert got.json()["row_count"] == count, who.email
        assert [v["row_count"] for v in got.json()["versions"]] == [count]
        listed = await client.get("/api/v1/datasets", headers=who.headers())
        [item] = [d for d in listed.json()["items"] if d["id"] == dataset]
        assert item["row_count"] == count
    # The editor counts what it sees.
    preview = await client.get(f"/api/v1/datasets/{dataset}/preview", headers=editor.headers())
    seen = sum(1 for r in products() if r["supplierID"] <= 15)
    assert preview.json()["row_count"] == seen < ROWS

    # What every member hears: the profile and a new version of a governed dataset, no count.
    profiled = await client.post(f"/api/v1/datasets/{dataset}/profile", headers=owner.headers())
    assert profiled.status_code == 200 and profiled.json()["profile"]["row_count"] == ROWS
    file_id = await put_file(client, owner, "products.csv", PRODUCTS.read_bytes())
    again = await client.post(
        f"/api/v1/datasets/{dataset}/versions", headers=owner.headers(), json={"file_id": file_id}
    )
    assert again.status_code in (200, 201), again.text
    [event] = await outbox(db, owner.workspace_id, "dataset.profiled")
    assert event["dataset_id"] == dataset and event["row_count"] is None
    created = await outbox(db, owner.workspace_id, "dataset.version.created")
    assert [e["row_count"] for e in created] == [ROWS, None]  # before its policies, and after


async def test_a_row_limit_caps_profiles_quality_samples_and_job_results(
    client: httpx.AsyncClient,
) -> None:
    people, dataset = await governed_products(client)
    owner, admin, viewer = people["owner"], people["admin"], people["viewer"]
    # The viewer: masks and a row limit; the admin: a row limit alone (the kept profile).
    limit = {"type": "query_limit", "max_rows": 2}
    await add_policy(
        client, owner, name="two rows", dataset_id=dataset, roles=["viewer", "admin"], rule=limit
    )
    url = f"/api/v1/datasets/{dataset}/profile"
    made = await client.post(url, headers=owner.headers())
    assert made.status_code == 200, made.text
    full = {c["name"]: c["top_values"] for c in made.json()["profile"]["columns"]}
    assert max(len(t) for t in full.values()) > 2
    kept = await client.get(url, headers=owner.headers())
    assert kept.json()["profile"]["columns"] == made.json()["profile"]["columns"]
    for response in (
        await client.get(url, headers=viewer.headers()),
        await client.post(url, headers=admin.headers()),
        await client.get(url, headers=admin.headers()),
    ):
        assert response.status_code == 200, response.text
        columns = response.json()["profile"]["columns"]
        assert columns and all(len(c["top_values"]) <= 2 for c in columns)
        assert any(len(c["top_values"]) == 2 for c in columns)

    # Quality samples are whole rows: at most two in all.
    rules = {
        "rules": [
            {"kind": "range", "column": "unitPrice", "max": 10},
            {"kind": "range", "column": "unitsInStock", "max": 10},
        ],
        "sample_size": 10,
    }
    check = f"/api/v1/datasets/{dataset}/quality"
    mine = await client.post(check, json=rules, headers=owner.headers())
    theirs = await client.post(check, json=rules, headers=viewer.headers())
    assert mine.status_code == theirs.status_code == 200, theirs.text
    assert sum(len(r["samples"]) for r in mine.json()["results"]) == 20
    assert sum(len(r["samples"]) for r in theirs.json()["results"]) == 2
    assert [r["failing_count"] for r in theirs.json()["results"]] == [
        r["failing_count"] for r in mine.json()["results"]
    ]

    # The owner's query over every row: the viewer pages through two of them.
    sql = "SELECT productID, unitPrice FROM products ORDER BY productID"
    accepted = await submit(client, owner, "query", {"sql": sql})
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()["job_id"]
    assert (await wait_for(client, owner, job, timeout_s=120))["state"] == "succeeded"
    result = f"/api/v1/jobs/{job}/result"
    assert (await client.get(result, headers=owner.headers())).json()["row_count"] == ROWS
    page = await client.get(result, params={"limit": 1}, headers=viewer.headers())
    assert page.json()["row_count"] == 2 and len(page.json()["rows"]) == 1
    rest = await client.get(
        result, params={"limit": 50, "cursor": page.json()["next_cursor"]}, headers=viewer.headers()
    )
    assert len(rest.json()["rows"]) == 1 and rest.json()["next_cursor"] is None


async def test_a_source_registered_again_or_uploaded_again_is_the_same_source(
    client: httpx.AsyncClient, http_base: str
) -> None:
    people = await new_team(client)
    owner, editor = people["owner"], people["editor"]
    url = f"{http_base}/products.csv"
    source = await client.post(
        "/api/v1/data-sources",
        headers=owner.headers(),
        json={
            "name": "products",
            "config": {"kind": "http_csv", "url": url},
        },
    )
    assert source.status_code == 201, source.text
    made = await client.post(
        "/api/v1/datasets",
        headers=owner.headers(),
        json={
            "name": "products",
            "data_source_id": source.json()["id"],
        },
    )
    assert made.status_code == 201, made.text
    dataset = made.json()["id"]
    file_id = await put_file(client, owner, "products.csv", PRODUCTS.read_bytes())
    from_file = await create(client, owner, "products-file", file_id)
    assert from_file.status_code == 201, from_file.text
    for governed in (dataset, from_file.json()["id"]):
        await add_policy(
            client,
            owner,
            name=f"suppliers {governed[:8]}",
            dataset_id=governed,
            roles=["editor"],
            rule=SUPPLIERS,
        )

    # The editor reads the source's address and registers it again, written otherwise.
    shown = await client.get(
        f"/api/v1/data-sources/{source.json()['id']}", headers=editor.headers()
    )
    assert shown.json()["config"]["url"] == url
    host, port = http_base.removeprefix("http://").split(":")
    alike = f"HTTP://{host}:{port}/products.csv#again"
    copy = await client.post(
        "/api/v1/data-sources",
        headers=editor.headers(),
        json={
            "name": "mine",
            "config": {"kind": "http_csv", "url": alike},
        },
    )
    assert copy.status_code == 201, copy.text
    restaged = await client.post(
        "/api/v1/datasets",
        headers=editor.headers(),
        json={
            "name": "mine",
            "data_source_id": copy.json()["id"],
        },
    )
    assert refused(restaged, "raw_access_governed"), restaged.text
    # The same bytes uploaded again are the governed file.
    again = await put_file(client, editor, "mine.csv", PRODUCTS.read_bytes())
    reuploaded = await create(client, editor, "mine-file", again)
    assert refused(reuploaded, "raw_access_governed"), reuploaded.text
    # Another file, or another address, is not.
    other = await put_file(
        client, editor, "categories.csv", (NORTHWIND / "categories.csv").read_bytes()
    )
    assert (await create(client, editor, "categories", other)).status_code == 201

    # The owner may copy it: the copy is governed as the original, for the editor too.
    owned = await client.post(
        "/api/v1/datasets",
        headers=owner.headers(),
        json={
            "name": "copy",
            "data_source_id": copy.json()["id"],
        },
    )
    assert owned.status_code == 201, owned.text
    copied = owned.json()["id"]
    preview = await client.get(
        f"/api/v1/datasets/{copied}/preview", params={"limit": 100}, headers=editor.headers()
    )
    assert preview.status_code == 200, preview.text
    suppliers = {r["supplierID"] for r in preview.json()["rows"]}
    assert suppliers and max(suppliers) <= 15
    full = await client.get(
        f"/api/v1/datasets/{copied}/preview", params={"limit": 100}, headers=owner.headers()
    )
    assert len(full.json()["rows"]) == ROWS
