"""Storage Orchestration on Ray Serve as its own application beside the gateway: Serve routes
`/api/v1/storage/...` to it by the longest prefix, it authenticates exactly as the gateway does
(token or API key), and a whole upload works through it."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.cluster import RayCluster

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def platform(cluster: RayCluster) -> str:
    """The platform as `serve deploy` runs it on the suite's cluster."""
    return cluster.api_url


def register(http: httpx.Client) -> dict[str, Any]:
    response = http.post(
        "/api/v1/auth/register",
        json={
            "email": f"serve-{uuid.uuid4().hex[:10]}@example.com",
            "password": "a long password here",
            "display_name": "Serve",
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.slow
def test_uploads_go_through_storage_orchestration(platform: str) -> None:
    with httpx.Client(base_url=platform, timeout=60) as http:
        account = register(http)  # the gateway
        auth = {"Authorization": f"Bearer {account['access_token']}"}
        # The gateway's own routes no longer include storage: those requests reach the
        # storage application.
        gateway_paths = http.get("/openapi.json").json()["paths"]
        assert not [path for path in gateway_paths if path.startswith("/api/v1/storage")]
        storage_paths = http.get("/api/v1/storage/openapi.json").json()["paths"]
        assert "/api/v1/storage/upload" in storage_paths
        anonymous = http.get("/api/v1/storage/quota")
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["code"] == "credentials_required"
        assert http.get("/api/v1/storage/quota", headers=auth).json()["used_bytes"] == 0

        data = secrets.token_bytes(6 * MiB + 17)
        started = http.post(
            "/api/v1/storage/uploads",
            json={
                "name": "s.bin",
                "size": len(data),
                "part_size": 5 * MiB,
                "sha256": hashlib.sha256(data).hexdigest(),
            },
            headers=auth,
        )
        assert started.status_code == 201, started.text
        body = started.json()
        parts = []
        for target in body["parts"]:
            offset = (target["part_number"] - 1) * 5 * MiB
            put = httpx.put(target["url"], content=data[offset : offset + 5 * MiB], timeout=60)
            assert put.status_code == 200, put.text
            parts.append({"part_number": target["part_number"], "etag": put.headers["etag"]})
        done = http.post(
            f"/api/v1/storage/uploads/{body['upload_id']}/complete",
            json={"parts": parts},
            headers=auth,
        )
        assert done.status_code == 201, done.text
        file_id = done.json()["id"]
        info = http.get(f"/api/v1/storage/files/{file_id}", headers=auth).json()
        assert hashlib.sha256(httpx.get(info["download_url"]).content).digest() == (
            hashlib.sha256(data).digest()
        )
        # An API key made at the gateway works at Storage Orchestration too.
        key = http.post(
            "/api/v1/api-keys", json={"name": "up", "role": "editor"}, headers=auth
        ).json()
        form = http.post(
            "/api/v1/storage/upload",
            files={"file": ("small.txt", b"small file", "text/plain")},
            headers={"X-API-Key": key["key"]},
        )
        assert form.status_code == 201, form.text
        listed = http.get("/api/v1/storage/files", headers={"X-API-Key": key["key"]})
        assert {f["id"] for f in listed.json()["items"]} == {file_id, form.json()["id"]}
        missing = http.get("/api/v1/storage/nowhere", headers=auth)
        assert missing.status_code == 404 and "error" in missing.json()
