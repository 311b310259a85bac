"""Data sources through the gateway app: register, list, get, discover, read, delete; secrets
never come back; another workspace's source does not exist."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from rivergen.accounts.principal import Principal, RequestContext
from rivergen.acl import Role
from rivergen.settings import ConnectorSettings, Settings
from tests.integration.api_client import Account, register
from tests.integration.source_servers import CSV_PORT, csv_server
from tests.platform_app import create_app, services


@pytest.fixture(scope="module")
def http_base() -> Iterator[str]:
    with csv_server() as base:
        yield base


@pytest.fixture
async def app(migrated: Settings) -> AsyncIterator[FastAPI]:
    connectors = ConnectorSettings(
        http_allow_hosts=[f"127.0.0.1:{CSV_PORT}"], postgres_allow_hosts=["127.0.0.1:5432"]
    )
    application = create_app(migrated.model_copy(update={"connectors": connectors}))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


def _postgres_dsn(migrated: Settings) -> str:
    assert migrated.postgres.migrate_dsn is not None
    return migrated.postgres.migrate_dsn.get_secret_value()


async def _create(
    client: httpx.AsyncClient, owner: Account, name: str, config: dict[str, object]
) -> httpx.Response:
    return await client.post(
        "/api/v1/data-sources", json={"name": name, "config": config}, headers=owner.headers()
    )


async def test_register_discover_read_delete(
    app: FastAPI, client: httpx.AsyncClient, migrated: Settings, http_base: str
) -> None:
    owner = await register(client, "analyst")
    csv = await _create(
        client, owner, "products", {"kind": "http_csv", "url": f"{http_base}/products.csv"}
    )
    assert csv.status_code == 201, csv.text
    source = csv.json()
    assert source["kind"] == "http_csv" and source["columns"] is None

    discovered = await client.post(
        f"/api/v1/data-sources/{source['id']}/discover-schema", headers=owner.headers()
    )
    assert discovered.status_code == 200, discovered.text
    columns = {c["name"]: c["type"] for c in discovered.json()["columns"]}
    assert columns["productID"] == "int64" and columns["unitPrice"] == "double"
    assert columns["productName"] == "string" and len(columns) == 10
    shown = await client.get(f"/api/v1/data-sources/{source['id']}", headers=owner.headers())
    assert shown.json()["columns"] == discovered.json()["columns"]
    assert shown.json()["discovered_at"] is not None

    # What the catalog calls to import a source as a dataset.
    service = services(app).data_sources
    context = RequestContext(Principal(), uuid.UUID(owner.workspace_id), Role.editor)
    view, table = await service.read(context, uuid.UUID(source["id"]))
    assert view.name == "products" and table.num_rows == 77
    assert table["productName"][0].as_py() == "Chai"
    _, preview = await service.read(context, uuid.UUID(source["id"]), limit=4)
    assert preview.num_rows == 4

    duplicate = await _create(
        client, owner, "products", {"kind": "http_csv", "url": f"{http_base}/products.csv"}
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "data_source_exists"

    deleted = await client.delete(f"/api/v1/data-sources/{source['id']}", headers=owner.headers())
    assert deleted.status_code == 204
    gone = await client.get(f"/api/v1/data-sources/{source['id']}", headers=owner.headers())
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "data_source_not_found"


async def test_secrets_are_never_returned(client: httpx.AsyncClient, migrated: Settings) -> None:
    owner = await register(client, "keeper")
    dsn = _postgres_dsn(migrated)
    password = "rivergen"
    query = "SELECT 1 AS one, 'x' AS two"
    pg = await _create(client, owner, "warehouse", {"kind": "postgres", "dsn": dsn, "query": query})
    assert pg.status_code == 201, pg.text
    assert pg.json()["config"]["dsn"].startswith("postgresql://rivergen:***@127.0.0.1:5432/")
    s3 = await _create(
        client,
        owner,
        "lake",
        {
            "kind": "s3",
            "bucket": "some-bucket",
            "prefix": "exports/",
            "format": "parquet",
            "endpoint_url": "https://s3.example.com",
            "access_key_id": "AKIAEXAMPLEKEYID",
            "secret_access_key": "wJalrXUtnFEMI-very-secret",
        },
    )
    assert s3.status_code == 201, s3.text
    assert s3.json()["config"]["credentials"] == "own"
    discovered = await client.post(
        f"/api/v1/data-sources/{pg.json()['id']}/discover-schema", headers=owner.headers()
    )
    assert discovered.status_code == 200, discovered.text
    assert [(c["name"], c["type"]) for c in discovered.json()["columns"]] == [
        ("one", "int32"),
        ("two", "string"),
    ]
    responses = [pg, s3, discovered]
    responses.append(await client.get("/api/v1/data-sources", headers=owner.headers()))
    for ident in (pg.json()["id"], s3.json()["id"]):
        responses.append(await client.get(f"/api/v1/data-sources/{ident}", headers=owner.headers()))
    for response in responses:
        assert response.status_code in (200, 201)
        for secret in (f":{password}@", "AKIAEXAMPLEKEYID", "wJalrXUtnFEMI"):
            assert secret not in response.text
    # At rest the secret fields are encrypted; the rest of the config stays readable.
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT config FROM data_sources WHERE id = ANY($1::uuid[])",
            [pg.json()["id"], s3.json()["id"]],
        )
    finally:
        await conn.close()
    stored = [json.loads(r["config"]) for r in rows]
    assert all(c.get("dsn", "enc:v1:").startswith("enc:v1:") for c in stored)
    assert {c["kind"] for c in stored} == {"postgres", "s3"}
    for secret in (f":{password}@", "AKIAEXAMPLEKEYID", "wJalrXUtnFEMI"):
        assert secret not in str(stored)


async def test_pages_and_workspaces(client: httpx.AsyncClient, http_base: str) -> None:
    owner, stranger = await register(client, "owner"), await register(client, "stranger")
    ids = []
    for n in range(5):
        config = {"kind": "http_csv", "url": f"{http_base}/products.csv"}
        created = await _create(client, owner, f"source {n}", config)
        ids.append(created.json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await client.get(f"/api/v1/data-sources?{query}", headers=owner.headers())
        seen += [s["id"] for s in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))  # newest first, each once
    # Another workspace's source does not exist for the stranger, whatever the verb.
    for method, path in [("GET", ""), ("DELETE", ""), ("POST", "/discover-schema")]:
        response = await client.request(
            method, f"/api/v1/data-sources/{ids[0]}{path}", headers=stranger.headers()
        )
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "data_source_not_found"
    theirs = await client.get("/api/v1/data-sources", headers=stranger.headers())
    assert theirs.json() == {"items": [], "next_cursor": None}
    bad_cursor = await client.get("/api/v1/data-sources?cursor=nope", headers=owner.headers())
    assert bad_cursor.status_code == 400


@pytest.mark.parametrize(
    ("config", "code"),
    [
        ({"kind": "http_csv", "url": "file:///etc/passwd"}, "scheme_not_allowed"),
        (
            {
                "kind": "postgres",
                "dsn": "postgresql://u:p@db.example.com/x",
                "query": "DELETE FROM orders",
            },
            "query_not_read_only",
        ),
        (
            {
                "kind": "postgres",
                "dsn": "postgresql://u:p@db.example.com/x",
                "query": "SELECT 1; DROP TABLE orders",
            },
            "multiple_statements",
        ),
        ({"kind": "postgres", "dsn": "postgresql://u:p@db.example.com/x"}, "table_or_query"),
        ({"kind": "s3", "bucket": "b-1", "format": "xlsx"}, "literal_error"),
        ({"kind": "mongodb", "url": "mongodb://x"}, "union_tag_invalid"),
    ],
)
async def test_bad_configs_are_refused_with_a_code(
    client: httpx.AsyncClient, config: dict[str, object], code: str
) -> None:
    owner = await register(client, "typo")
    response = await _create(client, owner, "bad", config)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert code in [e["type"] for e in error["details"]["errors"]]
    assert "p@db.example.com" not in response.text


async def test_discovery_refuses_internal_destinations(client: httpx.AsyncClient) -> None:
    owner = await register(client, "prober")
    config = {"kind": "http_csv", "url": "http://169.254.169.254/latest/"}
    created = await _create(client, owner, "metadata", config)
    assert created.status_code == 201  # an address is judged when it is used
    response = await client.post(
        f"/api/v1/data-sources/{created.json()['id']}/discover-schema", headers=owner.headers()
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "destination_not_allowed"
