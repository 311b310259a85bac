"""Direct uploads and files through the gateway app: S3 (the test S3 server) and the embedded
local store, on the real Postgres, Redis and Kafka."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from rivergen.settings import S3Settings, Settings
from tests.integration.api_client import Account, register
from tests.platform_app import create_app

MiB = 1024 * 1024


@pytest.fixture(params=["s3", "local"])
async def client(
    request: pytest.FixtureRequest, migrated: Settings, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = migrated
    if request.param == "local":
        settings = migrated.model_copy(update={"s3": S3Settings(), "data_dir": tmp_path})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http


async def upload(
    client: httpx.AsyncClient,
    owner: Account,
    data: bytes,
    *,
    declared: bytes | None = None,
    part_size: int = 5 * MiB,
) -> tuple[httpx.Response, str]:
    """Start, PUT every part with plain HTTP (no boto3), complete; the completion response."""
    started = await client.post(
        "/api/v1/storage/uploads",
        json={
            "name": "data.bin",
            "size": len(declared or data),
            "part_size": part_size,
            "sha256": hashlib.sha256(declared or data).hexdigest(),
        },
        headers=owner.headers(),
    )
    assert started.status_code == 201, started.text
    body = started.json()
    parts = []
    async with httpx.AsyncClient(timeout=60) as plain:
        for target in body["parts"]:
            start = (target["part_number"] - 1) * part_size
            chunk = data[start : start + part_size]
            if target["url"].startswith("http://gateway"):  # the embedded store's endpoint
                put = await client.put(target["url"], content=chunk, headers=owner.headers())
            else:
                put = await plain.put(target["url"], content=chunk)
            assert put.status_code == 200, put.text
            parts.append({"part_number": target["part_number"], "etag": put.headers["etag"]})
    done = await client.post(
        f"/api/v1/storage/uploads/{body['upload_id']}/complete",
        json={"parts": parts},
        headers=owner.headers(),
    )
    return done, body["upload_id"]


async def download(client: httpx.AsyncClient, owner: Account, file_id: str) -> bytes:
    info = await client.get(f"/api/v1/storage/files/{file_id}", headers=owner.headers())
    assert info.status_code == 200, info.text
    url = info.json()["download_url"]
    if url.startswith("http://gateway"):
        response = await client.get(url, headers=owner.headers())
    else:
        async with httpx.AsyncClient(timeout=60) as plain:
            response = await plain.get(url)
    assert response.status_code == 200
    return response.content


async def test_upload_download_list_delete(client: httpx.AsyncClient) -> None:
    owner = await register(client, "uploader")
    data = secrets.token_bytes(11 * MiB + 123)  # 3 parts of 5 MiB, the last smaller
    done, _ = await upload(client, owner, data)
    assert done.status_code == 201, done.text
    file = done.json()
    assert file["size"] == len(data) and file["sha256"] == hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(await download(client, owner, file["id"])).digest() == (
        hashlib.sha256(data).digest()
    )
    listed = await client.get("/api/v1/storage/files?limit=1", headers=owner.headers())
    assert [f["id"] for f in listed.json()["items"]] == [file["id"]]
    quota = await client.get("/api/v1/storage/quota", headers=owner.headers())
    assert quota.json()["used_bytes"] == len(data)
    deleted = await client.delete(f"/api/v1/storage/files/{file['id']}", headers=owner.headers())
    assert deleted.status_code == 204
    gone = await client.get(f"/api/v1/storage/files/{file['id']}", headers=owner.headers())
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "file_not_found"


async def test_pagination_walks_every_file_once(client: httpx.AsyncClient) -> None:
    owner = await register(client, "pager")
    ids = []
    for n in range(5):
        done, _ = await upload(client, owner, f"file {n}".encode())
        ids.append(done.json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(f"/api/v1/storage/files?{query}", headers=owner.headers())).json()
        seen += [f["id"] for f in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 5


async def test_failed_uploads_leave_nothing_behind(client: httpx.AsyncClient) -> None:
    owner = await register(client, "careful")
    data = b"the real bytes" * 1000
    # The bytes do not match the declared checksum.
    bad, bad_id = await upload(client, owner, data, declared=b"other bytes!!" * 1000 + b"xx")
    assert bad.status_code == 400, bad.text
    assert bad.json()["error"]["code"] in {"checksum_mismatch", "size_mismatch"}
    again = await client.post(
        f"/api/v1/storage/uploads/{bad_id}/complete",
        json={"parts": [{"part_number": 1, "etag": "x"}]},
        headers=owner.headers(),
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "upload_failed"
    # Completing twice.
    good, good_id = await upload(client, owner, data)
    assert good.status_code == 201
    twice = await client.post(
        f"/api/v1/storage/uploads/{good_id}/complete",
        json={"parts": [{"part_number": 1, "etag": "x"}]},
        headers=owner.headers(),
    )
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "upload_completed"
    # Completing an aborted upload.
    started = await client.post(
        "/api/v1/storage/uploads",
        json={"name": "a", "size": 10, "sha256": hashlib.sha256(b"0123456789").hexdigest()},
        headers=owner.headers(),
    )
    upload_id = started.json()["upload_id"]
    aborted = await client.delete(f"/api/v1/storage/uploads/{upload_id}", headers=owner.headers())
    assert aborted.status_code == 204
    late = await client.post(
        f"/api/v1/storage/uploads/{upload_id}/complete",
        json={"parts": [{"part_number": 1, "etag": "x"}]},
        headers=owner.headers(),
    )
    assert late.status_code == 409 and late.json()["error"]["code"] == "upload_aborted"
    # Over the quota (the free plan stores 1 GiB).
    huge = await client.post(
        "/api/v1/storage/uploads",
        json={"name": "huge", "size": 2 * 1024 * MiB, "sha256": "0" * 64},
        headers=owner.headers(),
    )
    assert huge.status_code == 403 and huge.json()["error"]["code"] == "quota_exceeded"
    # Only the good file exists.
    files = await client.get("/api/v1/storage/files", headers=owner.headers())
    assert [f["id"] for f in files.json()["items"]] == [good.json()["id"]]


async def test_another_workspaces_upload_does_not_exist(client: httpx.AsyncClient) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    started = await client.post(
        "/api/v1/storage/uploads",
        json={"name": "b", "size": 3, "sha256": hashlib.sha256(b"bob").hexdigest()},
        headers=bob.headers(),
    )
    upload_id = started.json()["upload_id"]
    for method, path in (
        ("POST", f"/api/v1/storage/uploads/{upload_id}/complete"),
        ("DELETE", f"/api/v1/storage/uploads/{upload_id}"),
        ("GET", f"/api/v1/storage/uploads/{upload_id}/parts"),
    ):
        body = {"parts": [{"part_number": 1, "etag": "x"}]} if method == "POST" else None
        response = await client.request(method, path, json=body, headers=alice.headers())
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "upload_not_found"
    part_url = started.json()["parts"][0]["url"]
    if part_url.startswith("http://gateway"):  # the embedded store's part endpoint
        foreign = await client.put(part_url, content=b"eve", headers=alice.headers())
        assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "upload_not_found"
    parts = await client.get(f"/api/v1/storage/uploads/{upload_id}/parts", headers=bob.headers())
    assert parts.status_code == 200 and parts.json() == []
