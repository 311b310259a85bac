"""Acceptance of the upload path, S3 (the test S3 server) and the embedded local store: each
refusal has its own 4xx code and leaves no file row, no event in the outbox and nothing in
object storage; an abandoned upload is swept; the one-shot form upload."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from rivergen.clients import PlatformClients
from rivergen.settings import S3Settings, Settings, StorageSettings
from rivergen.storage import UploadSweeper
from tests.integration.api_client import Account, register
from tests.platform_app import create_app, services

MiB = 1024 * 1024
FORM_LIMIT = 1 * MiB


@dataclass
class Platform:
    http: httpx.AsyncClient
    app: FastAPI

    @property
    def clients(self) -> PlatformClients:
        return services(self.app).clients

    async def leftovers(self, owner: Account) -> dict[str, Any]:
        """Everything an upload could leave in ``owner``'s workspace."""
        workspace = owner.workspace_id
        async with self.clients.db.transaction() as conn:
            files = await conn.fetchval(
                "SELECT count(*) FROM files WHERE workspace_id = $1", workspace
            )
            events = await conn.fetch(
                "SELECT payload->>'type' AS type FROM event_outbox "
                "WHERE topic = 'rivergen.storage' AND payload->>'workspace_id' = $1",
                workspace,
            )
        prefix = f"workspaces/{workspace}/"
        objects = await self.clients.objects.list(prefix)
        uploads = await self.clients.objects.list_uploads(prefix)
        return {
            "files": files,
            "events": [e["type"] for e in events],
            "objects": [o.key for o in objects.items],
            "uploads": [u.upload_id for u in uploads],
        }


NOTHING: dict[str, Any] = {"files": 0, "events": [], "objects": [], "uploads": []}


@pytest.fixture(params=["s3", "local"])
async def platform(
    request: pytest.FixtureRequest, migrated: Settings, tmp_path: Path
) -> AsyncIterator[Platform]:
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    storage = StorageSettings(form_upload_max_bytes=FORM_LIMIT)  # type: ignore[call-arg]
    settings = migrated.model_copy(update={"gateway": gateway, "storage": storage})
    if request.param == "local":
        settings = settings.model_copy(update={"s3": S3Settings(), "data_dir": tmp_path})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://storage") as http:
            yield Platform(http, app)


async def start(
    platform: Platform, owner: Account, declared: bytes, part_size: int = 5 * MiB
) -> dict[str, Any]:
    started = await platform.http.post(
        "/api/v1/storage/uploads",
        json={
            "name": "data.bin",
            "size": len(declared),
            "part_size": part_size,
            "sha256": hashlib.sha256(declared).hexdigest(),
        },
        headers=owner.headers(),
    )
    assert started.status_code == 201, started.text
    body: dict[str, Any] = started.json()
    return body


async def put_parts(
    platform: Platform, owner: Account, started: dict[str, Any], data: bytes
) -> list[dict[str, Any]]:
    """PUT each part with plain HTTP; the (part_number, etag) list to complete with."""
    part_size = started["part_size"]
    parts = []
    async with httpx.AsyncClient(timeout=60) as plain:
        for target in started["parts"]:
            offset = (target["part_number"] - 1) * part_size
            chunk = data[offset : offset + part_size]
            if target["url"].startswith("http://storage"):  # the embedded store's endpoint
                put = await platform.http.put(target["url"], content=chunk, headers=owner.headers())
            else:
                put = await plain.put(target["url"], content=chunk)
            assert put.status_code == 200, put.text
            parts.append({"part_number": target["part_number"], "etag": put.headers["etag"]})
    return parts


async def complete(
    platform: Platform, owner: Account, upload_id: str, parts: list[dict[str, Any]]
) -> httpx.Response:
    return await platform.http.post(
        f"/api/v1/storage/uploads/{upload_id}/complete",
        json={"parts": parts},
        headers=owner.headers(),
    )


def error_code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


async def test_bytes_that_do_not_match_the_declared_checksum(platform: Platform) -> None:
    owner = await register(platform.http, "mismatch")
    data = secrets.token_bytes(6 * MiB)
    declared = bytearray(data)
    declared[-1] ^= 0xFF  # same size, other content
    started = await start(platform, owner, bytes(declared))
    parts = await put_parts(platform, owner, started, data)
    done = await complete(platform, owner, started["upload_id"], parts)
    assert error_code(done) == (400, "checksum_mismatch")
    assert await platform.leftovers(owner) == NOTHING


async def test_a_completion_that_omits_a_part(platform: Platform) -> None:
    owner = await register(platform.http, "omits")
    data = secrets.token_bytes(11 * MiB)  # 3 parts
    started = await start(platform, owner, data)
    parts = await put_parts(platform, owner, started, data)
    done = await complete(platform, owner, started["upload_id"], [parts[0], parts[2]])
    assert error_code(done) == (400, "part_missing")
    assert done.json()["error"]["details"] == {"part_numbers": [2]}
    assert await platform.leftovers(owner) == NOTHING
    again = await complete(platform, owner, started["upload_id"], parts)
    assert error_code(again) == (409, "upload_failed")


async def test_a_part_declared_but_never_sent(platform: Platform) -> None:
    owner = await register(platform.http, "unsent")
    data = secrets.token_bytes(6 * MiB)  # 2 parts; only the first is sent
    started = await start(platform, owner, data)
    first = {**started, "parts": started["parts"][:1]}
    parts = await put_parts(platform, owner, first, data)
    declared = [*parts, {"part_number": 2, "etag": hashlib.md5(data[5 * MiB :]).hexdigest()}]
    done = await complete(platform, owner, started["upload_id"], declared)
    assert error_code(done) == (400, "part_missing")
    assert await platform.leftovers(owner) == NOTHING


async def test_a_file_over_the_quota(platform: Platform) -> None:
    owner = await register(platform.http, "greedy")
    huge = await platform.http.post(
        "/api/v1/storage/uploads",
        json={"name": "huge", "size": 2 * 1024 * MiB, "sha256": "0" * 64},
        headers=owner.headers(),
    )
    assert error_code(huge) == (403, "quota_exceeded")
    assert await platform.leftovers(owner) == NOTHING


async def test_another_workspaces_upload_is_not_found(platform: Platform) -> None:
    alice, bob = await register(platform.http, "alice"), await register(platform.http, "bob")
    data = b"bob's bytes"
    started = await start(platform, bob, data)
    parts = await put_parts(platform, bob, started, data)
    stolen = await complete(platform, alice, started["upload_id"], parts)
    assert error_code(stolen) == (404, "upload_not_found")
    assert await platform.leftovers(alice) == NOTHING
    # Bob's upload is untouched and still completes.
    done = await complete(platform, bob, started["upload_id"], parts)
    assert done.status_code == 201, done.text


async def test_completing_twice(platform: Platform) -> None:
    owner = await register(platform.http, "twice")
    data = secrets.token_bytes(1000)
    started = await start(platform, owner, data)
    parts = await put_parts(platform, owner, started, data)
    assert (await complete(platform, owner, started["upload_id"], parts)).status_code == 201
    before = await platform.leftovers(owner)
    twice = await complete(platform, owner, started["upload_id"], parts)
    assert error_code(twice) == (409, "upload_completed")
    # One file, its two events, its one object: the second completion added nothing.
    assert await platform.leftovers(owner) == before
    assert before["files"] == 1 and len(before["objects"]) == 1
    assert sorted(before["events"]) == ["storage.file.created", "usage.storage.changed"]


async def test_completing_an_aborted_upload(platform: Platform) -> None:
    owner = await register(platform.http, "aborter")
    data = secrets.token_bytes(1000)
    started = await start(platform, owner, data)
    parts = await put_parts(platform, owner, started, data)
    aborted = await platform.http.delete(
        f"/api/v1/storage/uploads/{started['upload_id']}", headers=owner.headers()
    )
    assert aborted.status_code == 204
    late = await complete(platform, owner, started["upload_id"], parts)
    assert error_code(late) == (409, "upload_aborted")
    assert await platform.leftovers(owner) == NOTHING


async def test_an_abandoned_upload_is_swept(platform: Platform) -> None:
    owner = await register(platform.http, "abandons")
    data = secrets.token_bytes(6 * MiB)
    started = await start(platform, owner, data)
    first = {**started, "parts": started["parts"][:1]}
    parts = await put_parts(platform, owner, first, data)  # then the client goes away
    leftovers = await platform.leftovers(owner)
    assert leftovers["uploads"] and not leftovers["files"]

    sweeper = UploadSweeper(platform.clients.db, platform.clients.objects)
    expires = datetime.fromisoformat(started["expires_at"])
    # Other workspaces' uploads may expire by then: the count is not this test's to know.
    await sweeper.sweep_once(now=expires - timedelta(seconds=1))
    assert (await platform.leftovers(owner))["uploads"], "swept before it expired"
    assert await sweeper.sweep_once(now=expires + timedelta(seconds=1)) >= 1
    assert await platform.leftovers(owner) == NOTHING
    async with platform.clients.db.transaction(owner.workspace_id) as conn:
        status = await conn.fetchval(
            "SELECT status FROM uploads WHERE id = $1", started["upload_id"]
        )
    assert status == "expired"
    late = await complete(platform, owner, started["upload_id"], parts)
    assert error_code(late) == (409, "upload_expired")
    # A second sweep finds nothing more of it.
    assert await sweeper.sweep_once(now=expires + timedelta(seconds=2)) == 0


async def test_form_upload_creates_a_verified_file(platform: Platform) -> None:
    owner = await register(platform.http, "former")
    data = secrets.token_bytes(FORM_LIMIT)
    sent = await platform.http.post(
        "/api/v1/storage/upload",
        files={"file": ("report.csv", data, "text/csv")},
        data={"sha256": hashlib.sha256(data).hexdigest()},
        headers=owner.headers(),
    )
    assert sent.status_code == 201, sent.text
    file = sent.json()
    assert (file["name"], file["content_type"], file["size"]) == (
        "report.csv",
        "text/csv",
        FORM_LIMIT,
    )
    assert file["sha256"] == hashlib.sha256(data).hexdigest()
    leftovers = await platform.leftovers(owner)
    assert leftovers["files"] == 1 and len(leftovers["objects"]) == 1
    assert sorted(leftovers["events"]) == ["storage.file.created", "usage.storage.changed"]
    info = await platform.http.get(f"/api/v1/storage/files/{file['id']}", headers=owner.headers())
    url = info.json()["download_url"]
    async with httpx.AsyncClient(timeout=60) as plain:
        got = await (platform.http if url.startswith("http://storage") else plain).get(
            url, headers=owner.headers()
        )
    assert hashlib.sha256(got.content).hexdigest() == file["sha256"]


async def test_form_upload_refusals_leave_nothing(platform: Platform) -> None:
    owner = await register(platform.http, "refused")
    too_big = await platform.http.post(
        "/api/v1/storage/upload",
        files={"file": ("big.bin", secrets.token_bytes(FORM_LIMIT + 1))},
        headers=owner.headers(),
    )
    assert error_code(too_big) == (413, "upload_too_large")
    # Far beyond the limit: refused from the declared length, before the body is read.
    far = await platform.http.post(
        "/api/v1/storage/upload",
        files={"file": ("far.bin", secrets.token_bytes(4 * FORM_LIMIT))},
        headers=owner.headers(),
    )
    assert error_code(far) == (413, "upload_too_large")
    # No declared length (a chunked body): refused as the bytes arrive.
    boundary = "rivergen-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()

    async def chunked() -> AsyncIterator[bytes]:
        yield head
        for _ in range(4):
            yield secrets.token_bytes(FORM_LIMIT)
        yield f"\r\n--{boundary}--\r\n".encode()

    streamed = await platform.http.post(
        "/api/v1/storage/upload",
        content=chunked(),
        headers={**owner.headers(), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "content-length" not in streamed.request.headers
    assert error_code(streamed) == (413, "upload_too_large")
    wrong = await platform.http.post(
        "/api/v1/storage/upload",
        files={"file": ("w.bin", b"these bytes")},
        data={"sha256": hashlib.sha256(b"other bytes").hexdigest()},
        headers=owner.headers(),
    )
    assert error_code(wrong) == (400, "checksum_mismatch")
    no_file = await platform.http.post(
        "/api/v1/storage/upload", data={"name": "x"}, headers=owner.headers()
    )
    assert error_code(no_file) == (400, "file_required")
    assert await platform.leftovers(owner) == NOTHING


async def test_a_stuck_completion_is_swept_only_after_the_grace(platform: Platform) -> None:
    owner = await register(platform.http, "stuck")
    data = secrets.token_bytes(1000)
    started = await start(platform, owner, data)
    await put_parts(platform, owner, started, data)
    # A completion whose process died between the two transactions leaves `completing`.
    async with platform.clients.db.transaction(owner.workspace_id) as conn:
        await conn.execute(
            "UPDATE uploads SET status = 'completing' WHERE id = $1", started["upload_id"]
        )
    grace = timedelta(seconds=StorageSettings().sweep_grace_s)
    sweeper = UploadSweeper(platform.clients.db, platform.clients.objects)
    expires = datetime.fromisoformat(started["expires_at"])
    await sweeper.sweep_once(now=expires + grace - timedelta(seconds=1))
    assert (await platform.leftovers(owner))["uploads"], "swept while it may still complete"
    assert await sweeper.sweep_once(now=expires + grace + timedelta(seconds=1)) >= 1
    assert await platform.leftovers(owner) == NOTHING
