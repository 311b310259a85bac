"""Governance through the gateway app on the real services (Postgres, S3, Kafka's outbox, Ray):
policies as an admin writes them, and every path that returns a dataset's data (preview,
download and content, profile, quality check, query jobs and their results) governed for the
caller's role, on the published Northwind customers."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rivergen.datasets.formats import ParseOptions, parse
from rivergen.settings import Settings
from tests.conftest import SHARED_DATA
from tests.integration.api_client import Account, new_team, register
from tests.integration.ray_cluster import ray_local
from tests.integration.test_datasets_api import create, put_file
from tests.platform_app import create_app

CUSTOMERS = SHARED_DATA / "northwind" / "customers.csv"
GOVERNED_ROLES = ["viewer", "editor"]
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]


@pytest.fixture(scope="module")
def raw() -> pa.Table:
    """The customers as the platform stages them (24 rows with unquoted commas skipped)."""
    return parse(
        CUSTOMERS.read_bytes(), "customers.csv", "text/csv", ParseOptions(on_invalid_rows="skip")
    ).table


@pytest.fixture
async def client(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    jobs = migrated.jobs.model_copy(update={"heartbeat_interval_s": 0.5})
    app = create_app(migrated.model_copy(update={"gateway": gateway, "jobs": jobs}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw", timeout=60) as c:
            yield c


async def customers(client: httpx.AsyncClient, owner: Account) -> str:
    file_id = await put_file(client, owner, "customers.csv", CUSTOMERS.read_bytes())
    made = await create(client, owner, "customers", file_id, on_invalid_rows="skip")
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def add_policy(client: httpx.AsyncClient, admin: Account, **body: Any) -> dict[str, Any]:
    made = await client.post("/api/v1/policies", json=body, headers=admin.headers())
    assert made.status_code == 201, made.text
    policy: dict[str, Any] = made.json()
    return policy


async def governed_customers(client: httpx.AsyncClient) -> tuple[dict[str, Account], str]:
    """A team and its customers, shown to viewers and editors: German rows only, contact
    names redacted, phones partial, customer ids hashed, faxes denied."""
    people = await new_team(client)
    dataset = await customers(client, people["owner"])
    admin = people["admin"]
    common = {"dataset_id": dataset, "roles": GOVERNED_ROLES}
    await add_policy(
        client,
        admin,
        name="germany",
        **common,
        rule={
            "type": "row_filter",
            "filters": [{"column": "country", "op": "==", "value": "Germany"}],
        },
    )
    for name, rule in [
        ("names", {"type": "mask", "columns": ["contactName"]}),
        ("phones", {"type": "mask", "columns": ["phone"], "method": "partial"}),
        ("ids", {"type": "mask", "columns": ["customerID"], "method": "hash"}),
        ("no fax", {"type": "access", "columns": ["fax"]}),
    ]:
        await add_policy(client, admin, name=name, **common, rule=rule)
    return people, dataset


def germans(raw: pa.Table) -> list[dict[str, Any]]:
    return [r for r in raw.to_pylist() if r["country"] == "Germany"]


def assert_governed(rows: list[dict[str, Any]], raw: pa.Table) -> None:
    expected = germans(raw)
    assert len(rows) == len(expected) > 0
    assert {r["contactName"] for r in rows} == {"****"}
    assert all("fax" not in r for r in rows)
    for got, want in zip(rows, expected, strict=True):
        assert got["city"] == want["city"] and got["customerID"] != want["customerID"]
        assert len(got["customerID"]) == 16
        assert got["phone"].endswith(want["phone"][-4:]) and got["phone"] != want["phone"]


async def test_preview_download_profile_and_quality_are_governed_for_the_role(
    client: httpx.AsyncClient, raw: pa.Table
) -> None:
    people, dataset = await governed_customers(client)
    viewer, admin = people["viewer"], people["admin"]

    preview = await client.get(
        f"/api/v1/datasets/{dataset}/preview", params={"limit": 100}, headers=viewer.headers()
    )
    assert preview.status_code == 200, preview.text
    assert_governed(preview.json()["rows"], raw)
    assert preview.json()["row_count"] == len(germans(raw))
    assert "fax" not in [c["name"] for c in preview.json()["columns"]]
    skipped = await client.get(f"/api/v1/datasets/{dataset}", headers=viewer.headers())
    rows_aside = skipped.json()["versions"][0]["invalid_rows"]
    assert len(rows_aside) == 24 and {r["text"] for r in rows_aside} == {"****"}
    full = await client.get(
        f"/api/v1/datasets/{dataset}/preview", params={"limit": 100}, headers=admin.headers()
    )
    assert full.json()["rows"] == raw.to_pylist() and full.json()["row_count"] == raw.num_rows

    # Export: the viewer gets the platform's governed Parquet, never the raw object's URL.
    path = f"/api/v1/datasets/{dataset}/versions/1/download"
    download = (await client.get(path, headers=viewer.headers())).json()
    assert download["credentials_required"] is True and download["expires_at"] is None
    assert download["url"] == f"http://gw/api/v1/datasets/{dataset}/versions/1/content"
    assert download["row_count"] == len(germans(raw))
    content = await client.get(download["url"], headers=viewer.headers())
    assert content.status_code == 200
    assert content.headers["content-type"] == "application/vnd.apache.parquet"
    assert len(content.content) == download["size_bytes"]
    assert_governed(pq.read_table(io.BytesIO(content.content)).to_pylist(), raw)
    presigned = (await client.get(path, headers=admin.headers())).json()
    assert presigned["credentials_required"] is False
    async with httpx.AsyncClient(timeout=30) as plain:
        parquet = await plain.get(presigned["url"])
    assert pq.read_table(io.BytesIO(parquet.content)).equals(raw)

    # Profile: the kept one is the whole version's; a governed reader gets theirs.
    made = await client.post(f"/api/v1/datasets/{dataset}/profile", headers=admin.headers())
    assert made.status_code == 200, made.text
    assert made.json()["profile"]["row_count"] == raw.num_rows
    for who in (viewer, people["editor"]):
        seen = await client.get(f"/api/v1/datasets/{dataset}/profile", headers=who.headers())
        assert seen.status_code == 200, seen.text
        profile = seen.json()["profile"]
        assert profile["row_count"] == len(germans(raw))
        columns = {c["name"]: c for c in profile["columns"]}
        assert "fax" not in columns
        assert [v["value"] for v in columns["country"]["top_values"]] == ["Germany"]
        names = columns["contactName"]
        assert [v["value"] for v in names["top_values"]] == ["****"]
        assert names["min"] in (None, "****") and names["max"] in (None, "****")
    posted = await client.post(
        f"/api/v1/datasets/{dataset}/profile", headers=people["editor"].headers()
    )
    assert posted.json()["profile"]["row_count"] == len(germans(raw))
    kept = await client.get(f"/api/v1/datasets/{dataset}/profile", headers=admin.headers())
    assert kept.json()["profile"]["row_count"] == raw.num_rows  # the editor's was not kept

    # Quality: the rules see the governed rows; a denied column is refused.
    rules = {"rules": [{"kind": "regex", "column": "contactName", "pattern": "^[*]+$"}]}
    checked = await client.post(
        f"/api/v1/datasets/{dataset}/quality", json=rules, headers=viewer.headers()
    )
    assert checked.status_code == 200, checked.text
    result = checked.json()["results"][0]
    assert result["passed"] and result["checked_count"] == len(germans(raw))
    raw_check = await client.post(
        f"/api/v1/datasets/{dataset}/quality", json=rules, headers=admin.headers()
    )
    assert not raw_check.json()["passed"]
    assert raw_check.json()["results"][0]["checked_count"] == raw.num_rows
    fax = {"rules": [{"kind": "not_null", "column": "fax"}]}
    refused = await client.post(
        f"/api/v1/datasets/{dataset}/quality", json=fax, headers=viewer.headers()
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "column_denied"


async def wait_done(client: httpx.AsyncClient, who: Account, job: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        got = await client.get(f"/api/v1/jobs/{job}", headers=who.headers())
        body: dict[str, Any] = got.json()
        if body["state"] in ("succeeded", "failed", "cancelled"):
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.3)


async def result_rows(client: httpx.AsyncClient, who: Account, job: str) -> dict[str, Any]:
    page = await client.get(
        f"/api/v1/jobs/{job}/result", params={"limit": 500}, headers=who.headers()
    )
    assert page.status_code == 200, page.text
    body: dict[str, Any] = page.json()
    return body


async def test_query_jobs_read_governed_inputs_and_results_are_masked_for_the_reader(
    client: httpx.AsyncClient, raw: pa.Table
) -> None:
    people, dataset = await governed_customers(client)
    editor, admin, viewer = people["editor"], people["admin"], people["viewer"]
    query = {
        "kind": "query",
        "params": {
            "dataset": dataset,
            "columns": ["customerID", "contactName", "phone", "city"],
        },
    }

    submitted = await client.post("/api/v1/jobs", json=query, headers=editor.headers())
    assert submitted.status_code == 202, submitted.text
    theirs = submitted.json()["job_id"]
    # One job at a time (the free plan's concurrent jobs).
    assert (await wait_done(client, admin, theirs))["state"] == "succeeded"
    with_country = {
        "kind": "query",
        "params": {
            "dataset": dataset,
            "columns": ["customerID", "contactName", "phone", "city", "country"],
        },
    }
    mine = (await client.post("/api/v1/jobs", json=with_country, headers=admin.headers())).json()
    assert (await wait_done(client, admin, mine["job_id"]))["state"] == "succeeded"

    # The editor's job read governed inputs: German rows only, masked, whoever reads it.
    expected = germans(raw)
    for who in (editor, admin):
        body = await result_rows(client, who, theirs)
        assert body["row_count"] == len(expected)
        for got, want in zip(body["rows"], expected, strict=True):
            assert got["contactName"] == "****" and got["city"] == want["city"]
            assert got["phone"].endswith(want["phone"][-4:]) and got["phone"] != want["phone"]
            assert len(got["customerID"]) == 16  # hashed once, not again for the reader
    # The admin's job read the raw table; a viewer reading its result gets what the viewer's
    # own policies give over the input, through the result's lineage: German rows, masked.
    columns = ["customerID", "contactName", "phone", "city", "country"]
    raw_result = await result_rows(client, admin, mine["job_id"])
    assert raw_result["rows"] == raw.select(columns).to_pylist()
    masked = await result_rows(client, viewer, mine["job_id"])
    assert masked["row_count"] == len(expected) > 0
    assert {r["contactName"] for r in masked["rows"]} == {"****"}
    assert {r["country"] for r in masked["rows"]} == {"Germany"}
    assert [r["city"] for r in masked["rows"]] == [r["city"] for r in expected]
    assert all(len(r["customerID"]) == 16 for r in masked["rows"])
    # The result is a dataset too: it inherits what its input's policies hide, on every path.
    job = await client.get(f"/api/v1/jobs/{mine['job_id']}", headers=admin.headers())
    made = job.json()["result"]
    preview = await client.get(
        f"/api/v1/datasets/{made['dataset_id']}/preview",
        params={"limit": 500},
        headers=viewer.headers(),
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["rows"] == masked["rows"]
    evaluated = await client.post(
        "/api/v1/policies/evaluate",
        json={"dataset_id": made["dataset_id"]},
        headers=viewer.headers(),
    )
    assert evaluated.json()["masked"] == {
        "contactName": "redact",
        "phone": "partial",
        "customerID": "hash",
    }
    # The admin's result without the country column: the viewer's row filter has nothing to
    # go through, so nothing of it is shown (rather than every country's rows).
    unfiltered = (await client.post("/api/v1/jobs", json=query, headers=admin.headers())).json()
    assert (await wait_done(client, admin, unfiltered["job_id"]))["state"] == "succeeded"
    page = await client.get(f"/api/v1/jobs/{unfiltered['job_id']}/result", headers=viewer.headers())
    assert page.status_code == 403 and page.json()["error"]["code"] == "derived_from_governed_data"

    # A query that names a denied column is refused before it exists.
    denied = {"kind": "query", "params": {"dataset": dataset, "columns": ["fax"]}}
    refused = await client.post("/api/v1/jobs", json=denied, headers=editor.headers())
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "column_denied"
    allowed = await client.post("/api/v1/jobs", json=denied, headers=admin.headers())
    assert allowed.status_code == 202


async def test_policy_crud_evaluation_and_isolation(client: httpx.AsyncClient) -> None:
    people = await new_team(client)
    admin, viewer = people["admin"], people["viewer"]
    dataset = await customers(client, people["owner"])
    mask = await add_policy(
        client,
        admin,
        name="mask",
        dataset_id=dataset,
        roles=["viewer"],
        rule={"type": "mask", "columns": ["phone"]},
        priority=20,
    )
    limit = await add_policy(
        client, admin, name="limit", rule={"type": "query_limit", "max_rows": 5}
    )
    assert mask["created_by"] and mask["workspace_id"] == admin.workspace_id
    assert limit["dataset_id"] is None and limit["roles"] is None and limit["priority"] == 100

    listed = await client.get("/api/v1/policies", params={"limit": 1}, headers=viewer.headers())
    assert [p["id"] for p in listed.json()["items"]] == [limit["id"]]
    rest = await client.get(
        "/api/v1/policies",
        params={"cursor": listed.json()["next_cursor"]},
        headers=viewer.headers(),
    )
    assert [p["id"] for p in rest.json()["items"]] == [mask["id"]]
    assert rest.json()["next_cursor"] is None

    evaluated = await client.post(
        "/api/v1/policies/evaluate", json={"dataset_id": dataset}, headers=viewer.headers()
    )
    assert evaluated.status_code == 200, evaluated.text
    governed = evaluated.json()
    assert governed["masked"] == {"phone": "redact"} and governed["max_rows"] == 5
    assert [a["name"] for a in governed["applied"]] == ["mask", "limit"]  # by priority
    as_admin = await client.post(
        "/api/v1/policies/evaluate",
        json={"dataset_id": dataset, "role": "admin"},
        headers=viewer.headers(),
    )
    assert as_admin.json()["masked"] == {}
    preview = await client.get(f"/api/v1/datasets/{dataset}/preview", headers=viewer.headers())
    assert len(preview.json()["rows"]) == 5  # the row limit clamps the preview
    query = {"kind": "query", "params": {"dataset": dataset, "limit": 100}}
    clamped = await client.post("/api/v1/jobs", json=query, headers=admin.headers())
    assert clamped.status_code == 202 and clamped.json()["params"]["limit"] == 5  # and queries

    changed = await client.patch(
        f"/api/v1/policies/{mask['id']}",
        json={"rule": {"type": "mask", "columns": ["fax"], "method": "hash"}},
        headers=admin.headers(),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["rule"]["columns"] == ["fax"] and changed.json()["name"] == "mask"
    unknown = await client.patch(
        f"/api/v1/policies/{mask['id']}",
        json={"rule": {"type": "mask", "columns": ["nope"]}},
        headers=admin.headers(),
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "column_not_found"
    for rule in (
        {"type": "mask", "columns": ["nope"]},
        {"type": "row_filter", "filters": [{"column": "nope", "op": "is_null"}]},
        {"type": "access", "columns": ["nope"]},
    ):
        bad = await client.post(
            "/api/v1/policies",
            json={"name": "x", "dataset_id": dataset, "rule": rule},
            headers=admin.headers(),
        )
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "column_not_found"
    as_viewer = await client.post(
        "/api/v1/policies",
        json={"name": "x", "rule": {"type": "access"}},
        headers=viewer.headers(),
    )
    assert as_viewer.status_code == 403

    # Another workspace's policies and datasets do not exist.
    stranger = await register(client, "stranger")
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method,
            f"/api/v1/policies/{mask['id']}",
            headers=stranger.headers(),
            json={"enabled": False} if method == "PATCH" else None,
        )
        assert response.status_code == 404 and response.json()["error"]["code"] == (
            "policy_not_found"
        )
    theirs = await client.get("/api/v1/policies", headers=stranger.headers())
    assert theirs.json()["items"] == []
    for path, body in [
        ("/api/v1/policies/evaluate", {"dataset_id": dataset}),
        ("/api/v1/policies", {"name": "x", "dataset_id": dataset, "rule": {"type": "access"}}),
    ]:
        response = await client.post(path, json=body, headers=stranger.headers())
        assert response.status_code == 404 and response.json()["error"]["code"] == (
            "dataset_not_found"
        )

    deleted = await client.delete(f"/api/v1/policies/{mask['id']}", headers=admin.headers())
    assert deleted.status_code == 204
    gone = await client.get(f"/api/v1/policies/{mask['id']}", headers=admin.headers())
    assert gone.status_code == 404

    # A deny of the whole dataset refuses every read of it for the roles it names.
    await add_policy(
        client, admin, name="deny", dataset_id=dataset, roles=["viewer"], rule={"type": "access"}
    )
    for path in (
        f"/api/v1/datasets/{dataset}/preview",
        f"/api/v1/datasets/{dataset}/versions/1/download",
        f"/api/v1/datasets/{dataset}/versions/1/content",
        f"/api/v1/datasets/{dataset}/profile",
    ):
        response = await client.get(path, headers=viewer.headers())
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["code"] == "dataset_denied"
    allowed = await client.get(f"/api/v1/datasets/{dataset}/preview", headers=admin.headers())
    assert allowed.status_code == 200

    # Every change of a policy (and every refused one) is in the workspace's audit trail.
    audit = await client.get("/api/v1/audit", params={"limit": 100}, headers=admin.headers())
    actions = {(e["action"], e["outcome"]) for e in audit.json()["items"]}
    for action, outcome in [
        ("POST /api/v1/policies", "success"),
        ("POST /api/v1/policies", "denied"),
        ("PATCH /api/v1/policies/{policy_id}", "success"),
        ("DELETE /api/v1/policies/{policy_id}", "success"),
    ]:
        assert (action, outcome) in actions


async def test_raw_bytes_are_not_read_around_the_policies(
    client: httpx.AsyncClient, migrated: Settings
) -> None:
    people, dataset = await governed_customers(client)
    owner, admin, editor = people["owner"], people["admin"], people["editor"]
    listed = await client.get("/api/v1/storage/files", headers=owner.headers())
    [file] = [f["id"] for f in listed.json()["items"]]
    # The uploaded CSV is what the dataset was made of: governed roles may not fetch it.
    for who in ("viewer", "editor"):
        for path in (f"/api/v1/storage/files/{file}", f"/api/v1/storage/files/{file}/content"):
            refused = await client.get(path, headers=people[who].headers())
            assert refused.status_code == 403, (who, path, refused.text)
            assert refused.json()["error"]["code"] == "raw_access_governed"
    assert (await client.get(f"/api/v1/storage/files/{file}", headers=admin.headers())).is_success
    # Nor read the platform's bucket (the workspace's files and staged datasets) as a source.
    source = await client.post(
        "/api/v1/data-sources",
        headers=editor.headers(),
        json={
            "name": "own bucket",
            "config": {
                "kind": "s3",
                "bucket": migrated.s3.bucket,
                "format": "parquet",
                "prefix": f"workspaces/{owner.workspace_id}/datasets/{dataset}/",
            },
        },
    )
    assert source.status_code == 201, source.text
    discover = f"/api/v1/data-sources/{source.json()['id']}/discover-schema"
    refused = await client.post(discover, headers=editor.headers())
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "raw_access_governed"
    made = await client.post(
        "/api/v1/datasets",
        headers=editor.headers(),
        json={
            "name": "raw copy",
            "data_source_id": source.json()["id"],
        },
    )
    assert made.status_code == 403, made.text
    # An admin, whom no policy governs, may.
    assert (await client.post(discover, headers=admin.headers())).status_code == 200
