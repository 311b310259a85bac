"""Data Staging and Schema & Metadata through the gateway app, with staging as Ray tasks on a
local Ray head, over the real Postgres, Kafka and S3 server, on the published Northwind data."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
import ray

from rivergen.db import Database
from rivergen.settings import Settings
from tests.conftest import SHARED_DATA
from tests.integration.api_client import Account, register
from tests.integration.ray_cluster import ray_local
from tests.platform_app import create_app, services

NORTHWIND = SHARED_DATA / "northwind"
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]


@pytest.fixture
async def client(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(migrated)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", timeout=60
        ) as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


async def put_file(client: httpx.AsyncClient, owner: Account, name: str, data: bytes) -> str:
    """Upload ``data`` through the direct-upload path (one part); the new file's id."""
    started = await client.post(
        "/api/v1/storage/uploads",
        json={"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
        headers=owner.headers(),
    )
    assert started.status_code == 201, started.text
    body = started.json()
    async with httpx.AsyncClient(timeout=60) as plain:
        put = await plain.put(body["parts"][0]["url"], content=data)
    assert put.status_code == 200, put.text
    done = await client.post(
        f"/api/v1/storage/uploads/{body['upload_id']}/complete",
        json={"parts": [{"part_number": 1, "etag": put.headers["etag"]}]},
        headers=owner.headers(),
    )
    assert done.status_code == 201, done.text
    file_id: str = done.json()["id"]
    return file_id


async def create(
    client: httpx.AsyncClient, owner: Account, name: str, file_id: str, **options: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/datasets",
        json={"name": name, "file_id": file_id, "options": options},
        headers=owner.headers(),
    )


async def outbox_types(db: Database, workspace: str) -> list[str]:
    async with db.transaction() as conn:
        rows = await conn.fetch(
            "SELECT payload->>'type' AS type FROM event_outbox "
            "WHERE payload->>'workspace_id' = $1 ORDER BY id",
            workspace,
        )
    return [r["type"] for r in rows]


async def test_northwind_orders_malformed_rows_are_named_then_kept_aside_on_request(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner = await register(client, "analyst")
    data = (NORTHWIND / "orders.csv").read_bytes()
    file_id = await put_file(client, owner, "orders.csv", data)

    refused = await create(client, owner, "orders", file_id)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "malformed_rows"
    assert error["details"]["invalid_row_count"] == 176
    # Physical line numbers: the header is line 1, and each named line really has 15 fields.
    lines = data.decode().splitlines()
    for row in error["details"]["invalid_rows"]:
        assert row["expected_columns"] == 14 and row["actual_columns"] == 15
        assert len(lines[row["line"] - 1].split(",")) == 15
    listed = await client.get("/api/v1/datasets", headers=owner.headers())
    assert listed.json()["items"] == []

    kept = await create(client, owner, "orders", file_id, on_invalid_rows="skip")
    assert kept.status_code == 201, kept.text
    body = kept.json()
    assert body["current_version"] == 1 and body["row_count"] == 654
    version = body["versions"][0]
    assert version["invalid_row_count"] == 176 and len(version["invalid_rows"]) == 100
    assert version["source_format"] == "csv"
    types = {c["name"]: c["type"] for c in body["columns"]}
    assert types["orderID"] == "int64" and types["freight"] == "double"
    assert types["orderDate"].startswith("timestamp")
    assert body["upstream"] == [
        {"kind": "file", "id": file_id, "version": None, "relation": "imported_from"}
    ]
    # `NULL` is read as null, accented text survives.
    preview = await client.get(
        f"/api/v1/datasets/{body['id']}/preview",
        params={"limit": 5},
        headers=owner.headers(),
    )
    assert preview.status_code == 200
    first = preview.json()["rows"][0]
    assert first["orderID"] == 10248 and first["shipRegion"] is None
    assert first["orderDate"] == "1996-07-04T00:00:00"
    assert len(preview.json()["rows"]) == 5 and preview.json()["row_count"] == 654
    types_seen = await outbox_types(db, owner.workspace_id)
    assert types_seen.count("dataset.version.created") == 1


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "arrow"])
async def test_every_format_gives_the_same_dataset(client: httpx.AsyncClient, fmt: str) -> None:
    owner = await register(client, f"fmt-{fmt}")
    products = pacsv.read_csv(NORTHWIND / "products.csv")
    sink = io.BytesIO()
    if fmt == "csv":
        sink.write((NORTHWIND / "products.csv").read_bytes())
    elif fmt == "jsonl":
        for row in products.to_pylist():
            sink.write(json.dumps(row).encode() + b"\n")
    elif fmt == "parquet":
        pq.write_table(products, sink)
    else:
        feather.write_feather(products, sink)
    file_id = await put_file(client, owner, f"products.{fmt}", sink.getvalue())
    made = await create(client, owner, "products", file_id)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["row_count"] == 77 and body["versions"][0]["source_format"] == fmt
    names = [c["name"] for c in body["columns"]]
    assert names == products.column_names
    preview = await client.get(
        f"/api/v1/datasets/{body['id']}/preview", params={"limit": 77}, headers=owner.headers()
    )
    assert [r["productName"] for r in preview.json()["rows"]] == products["productName"].to_pylist()


async def test_bad_files_are_refused_and_leave_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner = await register(client, "refused")
    cases = {
        "blank.csv": (b"\n\n  \n", 400, "empty_file"),
        "mystery.bin": (bytes(range(256)) * 4, 400, "unknown_format"),
        "broken.parquet": (b"PAR1 not really parquet", 422, "invalid_file"),
        "rows.jsonl": (b'{"a": 1}\n{"a": 2}\n{"a": \n', 422, "invalid_json"),
        "mixed.jsonl": (b'{"a": 1}\n{"a": 2}\n{"a": "three"}\n', 422, "mixed_types"),
        "photo.csv": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, 422, "binary_file"),
    }
    for name, (data, code, error) in cases.items():
        file_id = await put_file(client, owner, name, data)
        refused = await create(client, owner, name, file_id)
        assert refused.status_code == code, (name, refused.text)
        assert refused.json()["error"]["code"] == error, name
    jsonl = await create(
        client, owner, "x", await put_file(client, owner, "r.jsonl", cases["rows.jsonl"][0])
    )
    assert jsonl.json()["error"]["details"]["line"] == 3
    mixed = await create(
        client, owner, "y", await put_file(client, owner, "m.jsonl", cases["mixed.jsonl"][0])
    )
    assert mixed.json()["error"]["details"] == {"file": "m.jsonl", "line": 3, "column": "a"}
    listed = await client.get("/api/v1/datasets", headers=owner.headers())
    assert listed.json()["items"] == []
    assert "dataset.version.created" not in await outbox_types(db, owner.workspace_id)
    objects = services(client.app).clients.objects  # type: ignore[attr-defined]
    page = await objects.list(f"workspaces/{owner.workspace_id}/datasets/")
    assert page.items == []


async def test_files_in_other_encodings_and_separators_make_the_same_dataset(
    client: httpx.AsyncClient,
) -> None:
    """A Latin-1 export, a UTF-16 one (what spreadsheets call Unicode text) and a European
    semicolon/decimal-comma one of the same rows: the same dataset, shown as text, with how
    each file was read recorded on its version."""
    owner = await register(client, "encodings")
    rows = [("Zoë", "Köln", "1.5"), ("José", "São Paulo", "2.25")]
    files = {
        "latin1.csv": "\n".join(["name,city,amount", *map(",".join, rows)]).encode("latin-1"),
        "unicode.csv": "\t".join(["name", "city", "amount"]).encode("utf-16")
        + "".join("\n" + "\t".join(r) for r in rows).encode("utf-16-le"),
        "european.csv": "\n".join(
            ["name;city;amount", *(";".join((n, c, a.replace(".", ","))) for n, c, a in rows)]
        ).encode("cp1252"),
    }
    read_as = {}
    for name, data in files.items():
        made = await create(
            client, owner, name.split(".")[0], await put_file(client, owner, name, data)
        )
        assert made.status_code == 201, made.text
        preview = await client.get(
            f"/api/v1/datasets/{made.json()['id']}/preview", headers=owner.headers()
        )
        assert preview.json()["rows"] == [
            {"name": "Zoë", "city": "Köln", "amount": 1.5},
            {"name": "José", "city": "São Paulo", "amount": 2.25},
        ], name
        read_as[name] = made.json()["versions"][-1]["source"]["read_as"]
    assert read_as == {
        "latin1.csv": {"encoding": "cp1252", "delimiter": ",", "decimal": "."},
        "unicode.csv": {"encoding": "utf-16", "delimiter": "\t", "decimal": "."},
        "european.csv": {"encoding": "cp1252", "delimiter": ";", "decimal": ","},
    }


async def test_versions_metadata_search_and_isolation(client: httpx.AsyncClient) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    customers = await put_file(
        client, alice, "customers.csv", (NORTHWIND / "customers.csv").read_bytes()
    )
    made = await create(client, alice, "customers", customers, on_invalid_rows="skip")
    assert made.status_code == 201, made.text
    dataset = made.json()["id"]
    shippers = await put_file(
        client, alice, "shippers.csv", (NORTHWIND / "shippers.csv").read_bytes()
    )
    other = await create(client, alice, "shippers", shippers)
    assert other.status_code == 201
    taken = await create(client, alice, "customers", customers)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "dataset_exists"

    # Describe and tag; then the catalog finds the dataset by those words, ranked.
    patched = await client.patch(
        f"/api/v1/datasets/{dataset}",
        json={
            "description": "Accounts that buy from us",
            "tags": ["crm"],
            "columns": {"contactName": {"description": "who to call about churn"}},
        },
        headers=alice.headers(),
    )
    assert patched.status_code == 200, patched.text
    columns = {c["name"]: c for c in patched.json()["columns"]}
    assert columns["contactName"]["description"] == "who to call about churn"
    unknown = await client.patch(
        f"/api/v1/datasets/{dataset}",
        json={"columns": {"nope": {"tags": ["x"]}}},
        headers=alice.headers(),
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "column_not_found"

    async def search(account: Account, q: str) -> list[dict[str, Any]]:
        found = await client.get(
            "/api/v1/catalog/search", params={"q": q}, headers=account.headers()
        )
        assert found.status_code == 200, found.text
        items: list[dict[str, Any]] = found.json()["items"]
        return items

    assert [h["name"] for h in await search(alice, "which datasets mention churn")] == ["customers"]
    assert [h["name"] for h in await search(alice, "crm")] == ["customers"]
    hits = await search(alice, "company")  # a column of both
    assert {h["name"] for h in hits} == {"customers", "shippers"}
    assert "companyName" in hits[0]["matched_columns"]
    ranked = await search(alice, "shippers phone")
    assert ranked[0]["name"] == "shippers"  # a name match outranks a column match
    assert await search(bob, "customers") == []

    # Another workspace's dataset does not exist for bob.
    for method, path in [
        ("GET", f"/api/v1/datasets/{dataset}"),
        ("GET", f"/api/v1/datasets/{dataset}/preview"),
        ("DELETE", f"/api/v1/datasets/{dataset}"),
    ]:
        response = await client.request(method, path, headers=bob.headers())
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "dataset_not_found"

    # A second version from another file; both versions listed, the newest current.
    suppliers = await put_file(client, alice, "s.csv", (NORTHWIND / "suppliers.csv").read_bytes())
    added = await client.post(
        f"/api/v1/datasets/{dataset}/versions",
        json={"file_id": suppliers, "options": {"on_invalid_rows": "skip"}},
        headers=alice.headers(),
    )
    assert added.status_code == 201, added.text
    assert [v["version"] for v in added.json()["versions"]] == [2, 1]
    assert added.json()["row_count"] == 29 - 9
    old = await client.get(
        f"/api/v1/datasets/{dataset}/preview", params={"version": 1}, headers=alice.headers()
    )
    assert old.json()["version"] == 1 and old.json()["row_count"] == 91 - 24

    deleted = await client.delete(f"/api/v1/datasets/{dataset}", headers=alice.headers())
    assert deleted.status_code == 204
    gone = await client.get(f"/api/v1/datasets/{dataset}", headers=alice.headers())
    assert gone.status_code == 404


async def test_a_version_is_staged_into_the_object_store_as_arrow(
    client: httpx.AsyncClient,
) -> None:
    owner = await register(client, "compute")
    data = (NORTHWIND / "order-details.csv").read_bytes()
    made = await create(client, owner, "details", await put_file(client, owner, "od.csv", data))
    assert made.status_code == 201, made.text
    service = services(client.app).datasets  # type: ignore[attr-defined]
    expected = pacsv.read_csv(NORTHWIND / "order-details.csv")
    key = made.json()["versions"][0]
    assert key["row_count"] == expected.num_rows
    ref = service.load(await _key(client, owner, made.json()["id"]))
    staged = ray.get(ref)
    assert isinstance(staged, pa.Table)
    assert staged.equals(expected)


async def _key(client: httpx.AsyncClient, owner: Account, dataset: str) -> str:
    async with services(client.app).clients.db.transaction(owner.workspace_id) as conn:  # type: ignore[attr-defined]
        key: str = await conn.fetchval(
            "SELECT object_key FROM dataset_versions WHERE dataset_id = $1", dataset
        )
    return key


async def test_a_dataset_from_a_data_source_records_its_lineage(
    client: httpx.AsyncClient, migrated: Settings
) -> None:
    owner = await register(client, "connected")
    await put_file(client, owner, "products.csv", (NORTHWIND / "products.csv").read_bytes())
    source = await client.post(
        "/api/v1/data-sources",
        json={
            "name": "my files",
            "config": {
                "kind": "s3",
                "bucket": migrated.s3.bucket,
                "format": "csv",
                "prefix": f"workspaces/{owner.workspace_id}/files/",
            },
        },
        headers=owner.headers(),
    )
    assert source.status_code == 201, source.text
    made = await client.post(
        "/api/v1/datasets",
        json={"name": "products", "data_source_id": source.json()["id"]},
        headers=owner.headers(),
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["row_count"] == 77 and body["versions"][0]["source_format"] == "table"
    assert body["upstream"] == [
        {
            "kind": "data_source",
            "id": source.json()["id"],
            "version": None,
            "relation": "imported_from",
        }
    ]
    neither = await client.post(
        "/api/v1/datasets", json={"name": "nothing"}, headers=owner.headers()
    )
    assert neither.status_code == 422


async def test_profile_and_quality_rules_of_a_dataset(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner = await register(client, "quality")
    data = (NORTHWIND / "products.csv").read_bytes()
    made = await create(client, owner, "products", await put_file(client, owner, "p.csv", data))
    dataset = made.json()["id"]
    base = f"/api/v1/datasets/{dataset}"
    none_yet = await client.get(f"{base}/profile", headers=owner.headers())
    assert none_yet.status_code == 404 and none_yet.json()["error"]["code"] == "profile_not_found"

    profiled = await client.post(f"{base}/profile", headers=owner.headers())
    assert profiled.status_code == 200, profiled.text
    profile = profiled.json()["profile"]
    assert profile["row_count"] == 77 and profile["column_count"] == 10
    assert profile["tasks"] >= 1
    columns = {c["name"]: c for c in profile["columns"]}
    expected = pacsv.read_csv(NORTHWIND / "products.csv")
    assert columns["categoryID"]["distinct_count"] == 8
    assert columns["unitPrice"]["min"] == 2.5 and columns["unitPrice"]["max"] == 263.5
    mean = sum(expected["unitPrice"].to_pylist()) / 77
    assert abs(columns["unitPrice"]["mean"] - mean) <= 1e-9 * mean
    kept = await client.get(f"{base}/profile", headers=owner.headers())
    assert kept.json() == profiled.json()
    assert "dataset.profiled" in await outbox_types(db, owner.workspace_id)

    checked = await client.post(
        f"{base}/quality",
        json={
            "rules": [
                {"kind": "not_null", "column": "productName"},
                {"kind": "range", "column": "unitPrice", "max": 100},
                {"kind": "unique", "column": "productID"},
            ],
            "sample_size": 1,
        },
        headers=owner.headers(),
    )
    assert checked.status_code == 200, checked.text
    report = checked.json()
    assert report["passed"] is False
    by_kind = {r["rule"]["kind"]: r for r in report["results"]}
    assert by_kind["not_null"]["passed"] and by_kind["unique"]["passed"]
    too_dear = by_kind["range"]
    assert not too_dear["passed"] and too_dear["failing_count"] == 2
    assert len(too_dear["samples"]) == 1 and too_dear["samples"][0]["value"] > 100
    unknown = await client.post(
        f"{base}/quality",
        json={"rules": [{"kind": "not_null", "column": "nope"}]},
        headers=owner.headers(),
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_column"
