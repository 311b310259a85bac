"""Governance leaks closed, through the gateway app on the real services (Postgres, S3, Ray), on
the Northwind CSVs: a governed member cannot copy the raw file or data source of a governed
dataset into a new one, and a copy made by anyone else is governed as the original; a row
limit caps downloads and content; ``hash`` masks are keyed per workspace (HMAC-SHA256), so a
dictionary of candidate values does not reverse them.

Three roles: the owner ungoverned, the editor with a row filter, the viewer with masks.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import io
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rivergen.datasets.formats import ParseOptions, parse
from rivergen.services.governance.keys import workspace_hash_key
from rivergen.settings import Settings
from tests.conftest import SHARED_DATA
from tests.integration.api_client import Account, new_team
from tests.integration.ray_cluster import ray_local
from tests.integration.source_servers import _handler
from tests.integration.test_datasets_api import create, put_file
from tests.platform_app import create_app

NORTHWIND = SHARED_DATA / "northwind"
CUSTOMERS = NORTHWIND / "customers.csv"
PRODUCTS = NORTHWIND / "products.csv"
SKIP = {"on_invalid_rows": "skip"}  # 24 customers carry an unquoted comma
GERMANY = {"type": "row_filter", "filters": [{"column": "country", "op": "==", "value": "Germany"}]}
HASHED = ["customerID", "contactName", "companyName", "city"]
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]


@contextlib.contextmanager
def csv_server() -> Iterator[str]:
    """Northwind's CSVs over HTTP on a free loopback port (a data source to import)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(NORTHWIND))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def http_base() -> Iterator[str]:
    with csv_server() as base:
        yield base


@pytest.fixture
def app_settings(migrated: Settings, http_base: str) -> Settings:
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    connectors = migrated.connectors.model_copy(
        update={"http_allow_hosts": [http_base.removeprefix("http://")]}
    )
    return migrated.model_copy(update={"gateway": gateway, "connectors": connectors})


@pytest.fixture
async def client(app_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(app_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw", timeout=60) as c:
            yield c


@pytest.fixture(scope="module")
def raw() -> pa.Table:
    """The customers as the platform stages them."""
    return parse(
        CUSTOMERS.read_bytes(), "customers.csv", "text/csv", ParseOptions(on_invalid_rows="skip")
    ).table


async def add_policy(client: httpx.AsyncClient, admin: Account, **body: Any) -> dict[str, Any]:
    made = await client.post("/api/v1/policies", json=body, headers=admin.headers())
    assert made.status_code == 201, made.text
    policy: dict[str, Any] = made.json()
    return policy


async def rows_of(client: httpx.AsyncClient, who: Account, dataset: str) -> list[dict[str, Any]]:
    preview = await client.get(
        f"/api/v1/datasets/{dataset}/preview", params={"limit": 1000}, headers=who.headers()
    )
    assert preview.status_code == 200, preview.text
    rows: list[dict[str, Any]] = preview.json()["rows"]
    return rows


def refused(response: httpx.Response, code: str) -> bool:
    return response.status_code == 403 and response.json()["error"]["code"] == code


async def governed_customers(client: httpx.AsyncClient) -> tuple[dict[str, Account], str, str]:
    """A team, its customers file and the dataset staged from it: the editor sees German rows
    only, the viewer sees ids, names, companies and cities hashed and phones partial."""
    people = await new_team(client)
    file_id = await put_file(client, people["owner"], "customers.csv", CUSTOMERS.read_bytes())
    made = await create(client, people["owner"], "customers", file_id, **SKIP)
    assert made.status_code == 201, made.text
    dataset = str(made.json()["id"])
    admin = people["admin"]
    await add_policy(
        client, admin, name="germany", dataset_id=dataset, roles=["editor"], rule=GERMANY
    )
    await add_policy(
        client,
        admin,
        name="hashed",
        dataset_id=dataset,
        roles=["viewer"],
        rule={"type": "mask", "columns": HASHED, "method": "hash"},
    )
    await add_policy(
        client,
        admin,
        name="phones",
        dataset_id=dataset,
        roles=["viewer"],
        rule={"type": "mask", "columns": ["phone"], "method": "partial"},
    )
    return people, file_id, dataset


async def test_a_governed_member_cannot_restage_the_file_and_a_copy_is_governed_as_the_original(
    client: httpx.AsyncClient, raw: pa.Table
) -> None:
    people, file_id, dataset = await governed_customers(client)
    owner, admin, editor, viewer = (people[r] for r in ("owner", "admin", "editor", "viewer"))

    # The governed editor may not make a new dataset of the file, with or without a header...
    for i, options in enumerate([SKIP, {**SKIP, "header": False}, {}]):
        made = await create(client, editor, f"mine {i}", file_id, **options)
        assert refused(made, "raw_access_governed"), made.text
        assert made.json()["error"]["details"]["datasets"] == [dataset]
    # ... nor a new version of a dataset of their own, nor lift the policies by deleting it.
    shippers = await put_file(
        client, editor, "shippers.csv", (NORTHWIND / "shippers.csv").read_bytes()
    )
    theirs = await create(client, editor, "shippers", shippers)
    assert theirs.status_code == 201, theirs.text
    version = await client.post(
        f"/api/v1/datasets/{theirs.json()['id']}/versions",
        json={"file_id": file_id, "options": {**SKIP, "header": False}},
        headers=editor.headers(),
    )
    assert refused(version, "raw_access_governed"), version.text
    deleted = await client.delete(f"/api/v1/datasets/{dataset}", headers=editor.headers())
    assert refused(deleted, "dataset_governed"), deleted.text
    listed = await client.get("/api/v1/datasets", headers=owner.headers())
    assert {d["name"] for d in listed.json()["items"]} == {"customers", "shippers"}

    # The ungoverned owner may; the copy is governed for the editor and the viewer as the
    # original is (the same rows, the same digests), not shown raw.
    copy = await create(client, owner, "customers again", file_id, **SKIP)
    assert copy.status_code == 201, copy.text
    again = str(copy.json()["id"])
    germans = [r for r in raw.to_pylist() if r["country"] == "Germany"]
    assert await rows_of(client, owner, again) == raw.to_pylist()
    assert await rows_of(client, editor, again) == await rows_of(client, editor, dataset)
    assert await rows_of(client, editor, again) == germans
    masked = await rows_of(client, viewer, again)
    assert masked == await rows_of(client, viewer, dataset)
    assert len(masked) == raw.num_rows
    for got, want in zip(masked, raw.to_pylist(), strict=True):
        assert all(got[c] != want[c] and len(got[c]) == 16 for c in HASHED)
        assert got["phone"] != want["phone"] and got["country"] == want["country"]
    # ... on the export too: the viewer is sent to the governed content, never the raw object.
    download = await client.get(
        f"/api/v1/datasets/{again}/versions/1/download", headers=viewer.headers()
    )
    assert download.json()["url"] == f"http://gw/api/v1/datasets/{again}/versions/1/content"
    content = await client.get(download.json()["url"], headers=viewer.headers())
    assert pq.read_table(io.BytesIO(content.content)).to_pylist() == masked
    # ... and the editor may not copy the copy's file either.
    made = await create(client, editor, "mine again", file_id, **SKIP)
    assert refused(made, "raw_access_governed")

    # Inherited through the provenance at every read: a later policy of the original holds for
    # the copy at once.
    evaluated = await client.post(
        "/api/v1/policies/evaluate", json={"dataset_id": again}, headers=viewer.headers()
    )
    assert {a["name"] for a in evaluated.json()["applied"]} == {"hashed", "phones"}
    await add_policy(
        client,
        admin,
        name="no fax",
        dataset_id=dataset,
        roles=["viewer"],
        rule={"type": "access", "columns": ["fax"]},
    )
    assert all("fax" not in r for r in await rows_of(client, viewer, again))
    assert all("fax" in r for r in await rows_of(client, owner, again))

    # A copy whose columns the policies cannot find (staged without a header: column_1, ...)
    # is denied to the roles they govern, never shown with its masks missing their columns.
    headless = await create(client, owner, "customers headless", file_id, **SKIP, header=False)
    assert headless.status_code == 201, headless.text
    blind = str(headless.json()["id"])
    assert "contactName" not in [c["name"] for c in headless.json()["columns"]]
    for who in (editor, viewer):
        for path in (
            f"/api/v1/datasets/{blind}/preview",
            f"/api/v1/datasets/{blind}/versions/1/content",
        ):
            response = await client.get(path, headers=who.headers())
            assert refused(response, "dataset_denied"), (path, response.text)
    assert len(await rows_of(client, owner, blind)) == raw.num_rows + 1  # the header is a row

    # The original's policies were made by the admin: without them, the copies are free again.
    policies = await client.get(
        "/api/v1/policies", params={"dataset_id": dataset}, headers=admin.headers()
    )
    for policy in policies.json()["items"]:
        gone = await client.delete(f"/api/v1/policies/{policy['id']}", headers=admin.headers())
        assert gone.status_code == 204
    assert await rows_of(client, viewer, again) == raw.to_pylist()
    assert (await create(client, editor, "mine at last", file_id, **SKIP)).status_code == 201


async def test_a_governed_member_cannot_reimport_the_data_source_and_a_copy_is_governed(
    client: httpx.AsyncClient, http_base: str
) -> None:
    people = await new_team(client)
    owner, admin, editor = people["owner"], people["admin"], people["editor"]
    source = await client.post(
        "/api/v1/data-sources",
        headers=owner.headers(),
        json={
            "name": "products",
            "config": {"kind": "http_csv", "url": f"{http_base}/products.csv"},
        },
    )
    assert source.status_code == 201, source.text
    body = {"data_source_id": source.json()["id"]}
    made = await client.post(
        "/api/v1/datasets", json={**body, "name": "products"}, headers=owner.headers()
    )
    assert made.status_code == 201, made.text
    dataset = made.json()["id"]
    beverages = {"column": "categoryID", "op": "==", "value": 1}
    await add_policy(
        client,
        admin,
        name="beverages",
        dataset_id=dataset,
        roles=["editor"],
        rule={"type": "row_filter", "filters": [beverages]},
    )

    mine = await client.post(
        "/api/v1/datasets", json={**body, "name": "mine"}, headers=editor.headers()
    )
    assert refused(mine, "raw_access_governed"), mine.text
    copy = await client.post(
        "/api/v1/datasets", json={**body, "name": "products again"}, headers=owner.headers()
    )
    assert copy.status_code == 201, copy.text
    everything = await rows_of(client, owner, copy.json()["id"])
    shown = await rows_of(client, editor, copy.json()["id"])
    assert shown == [r for r in everything if r["categoryID"] == 1]
    assert 0 < len(shown) < len(everything)
    # Nor a fresh read of the source as a new version.
    version = await client.post(
        f"/api/v1/datasets/{copy.json()['id']}/versions", json=body, headers=editor.headers()
    )
    assert refused(version, "raw_access_governed"), version.text


async def test_a_row_limit_caps_downloads_and_content(
    client: httpx.AsyncClient, raw: pa.Table
) -> None:
    people, _, customers = await governed_customers(client)
    owner, admin, viewer, editor = (people[r] for r in ("owner", "admin", "viewer", "editor"))
    file_id = await put_file(client, owner, "products.csv", PRODUCTS.read_bytes())
    made = await create(client, owner, "products", file_id)
    assert made.status_code == 201, made.text
    products = made.json()["id"]
    # The viewer's only policy of the products is a row limit; on the customers it adds to
    # their masks, and the editor's row filter leaves fewer rows than it allows.
    for dataset, limit in ((products, 5), (customers, 3)):
        await add_policy(
            client,
            admin,
            name=f"limit {limit}",
            dataset_id=dataset,
            roles=["viewer", "editor"],
            rule={"type": "query_limit", "max_rows": limit},
        )

    async def exported(who: Account, dataset: str) -> tuple[dict[str, Any], pa.Table]:
        path = f"/api/v1/datasets/{dataset}/versions/1/download"
        download = await client.get(path, headers=who.headers())
        assert download.status_code == 200, download.text
        body: dict[str, Any] = download.json()
        content = await client.get(
            f"/api/v1/datasets/{dataset}/versions/1/content", headers=who.headers()
        )
        assert content.status_code == 200, content.text
        assert content.headers["content-type"] == "application/vnd.apache.parquet"
        return body, pq.read_table(io.BytesIO(content.content))

    path = f"/api/v1/datasets/{products}/versions/1/download"
    whole = (await client.get(path, headers=owner.headers())).json()
    assert whole["credentials_required"] is False  # the raw object, presigned
    async with httpx.AsyncClient(timeout=30) as plain:
        stored = pq.read_table(io.BytesIO((await plain.get(whole["url"])).content))
    assert stored.num_rows == whole["row_count"] == 77

    capped, table = await exported(viewer, products)
    assert capped["url"] == f"http://gw/api/v1/datasets/{products}/versions/1/content"
    assert capped["credentials_required"] is True and capped["expires_at"] is None
    assert "X-Amz" not in capped["url"]
    assert capped["row_count"] == table.num_rows == 5
    assert table.equals(stored.slice(0, 5))

    masked, table = await exported(viewer, customers)
    assert masked["row_count"] == table.num_rows == 3
    assert table.column("city").to_pylist() != raw.column("city").to_pylist()[:3]
    filtered, table = await exported(editor, customers)
    germans = [r for r in raw.to_pylist() if r["country"] == "Germany"]
    assert filtered["row_count"] == table.num_rows == 3 < len(germans)
    assert table.to_pylist() == germans[:3]


def hex16(digest: str) -> str:
    return digest[:16]


async def test_hash_masks_are_keyed_per_workspace_and_resist_a_dictionary(
    client: httpx.AsyncClient, app_settings: Settings, raw: pa.Table
) -> None:
    first, _, dataset = await governed_customers(client)
    second, _, other = await governed_customers(client)
    viewer = first["viewer"]
    masked = await rows_of(client, viewer, dataset)
    theirs = await rows_of(client, second["viewer"], other)
    assert len(masked) == len(theirs) == raw.num_rows
    digests = {r[c] for r in masked for c in HASHED}

    # The dictionary: every value of the file (names, companies, ids, cities, everything),
    # hashed the old way (bare SHA-256) and under keys one could guess.
    candidates = {str(v) for row in raw.to_pylist() for v in row.values() if v is not None}
    candidates |= {line for line in CUSTOMERS.read_text().splitlines()}
    assert {"Maria Anders", "Alfreds Futterkiste", "ALFKI", "Berlin"} <= candidates
    workspace = uuid.UUID(viewer.workspace_id)
    assert app_settings.auth.jwt_private_key is not None
    guesses = [
        b"",
        b"rivergen",
        b"secret",
        workspace.bytes,
        str(workspace).encode(),
        dataset.encode(),
        app_settings.auth.jwt_private_key.get_secret_value().encode(),
    ]
    for value in candidates:
        data = value.encode()
        assert hex16(hashlib.sha256(data).hexdigest()) not in digests, value
        assert hex16(hashlib.sha1(data).hexdigest()) not in digests, value
        for key in guesses:
            assert hex16(hmac.new(key, data, hashlib.sha256).hexdigest()) not in digests

    # The platform's own key of this workspace (derived from its secret) is what made them.
    key = workspace_hash_key(app_settings, workspace)
    for got, want in zip(masked, raw.to_pylist(), strict=True):
        for column in HASHED:
            expected = hmac.new(key, want[column].encode(), hashlib.sha256).hexdigest()
            assert got[column] == hex16(expected)

    # Equal values, equal digests (masked keys still join and count); distinct stay distinct.
    cities: dict[str, set[str]] = {}
    for got, want in zip(masked, raw.to_pylist(), strict=True):
        cities.setdefault(want["city"], set()).add(got["city"])
    assert all(len(d) == 1 for d in cities.values())
    assert max(raw.column("city").value_counts().field("counts").to_pylist()) > 1
    assert len({d for ds in cities.values() for d in ds}) == len(cities)
    # ... on every path: the download's digests are the preview's.
    content = await client.get(
        f"/api/v1/datasets/{dataset}/versions/1/content", headers=viewer.headers()
    )
    assert pq.read_table(io.BytesIO(content.content)).to_pylist() == masked

    # Another workspace, the same file and policies: other digests for every value.
    assert not digests & {r[c] for r in theirs for c in HASHED}
    assert [r["country"] for r in theirs] == [r["country"] for r in masked]

    # The key is in no answer: not in the evaluation (which names the workspace), nor a preview.
    evaluated = await client.post(
        "/api/v1/policies/evaluate", json={"dataset_id": dataset}, headers=viewer.headers()
    )
    assert evaluated.status_code == 200, evaluated.text
    assert evaluated.json()["workspace_id"] == str(workspace)
    assert evaluated.json()["masked"]["contactName"] == "hash"
    preview = await client.get(
        f"/api/v1/datasets/{dataset}/preview", params={"limit": 1000}, headers=viewer.headers()
    )
    for text in (evaluated.text, preview.text):
        for form in (key.hex(), key.hex().upper(), base64.b64encode(key).decode()):
            assert form not in text
