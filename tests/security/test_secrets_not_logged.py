"""No token, API key, password or presigned signature in what the platform logs.

The whole API runs under uvicorn (access log on) in this process; the flows that handle
secrets run against it: register, a failed and a good sign-in, refresh, an API key created and
used, a presigned multipart upload, a data source with a password (discovered, and once with a
wrong one). Then the captured log records (with their tracebacks) and the process's own
stdout and stderr are searched for every secret the flows saw.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest

from rivergen.settings import Settings
from tests.security.live_server import clear_login_throttle, live_server, register

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def fragments(secret: str) -> set[str]:
    """The secret, and pieces of it long enough to identify it if only part is logged."""
    found = {secret}
    if secret.count(".") == 2:  # a JWT: its signature identifies it
        found.add(secret.rsplit(".", 1)[1])
    if len(secret) >= 24:
        found.add(secret[-16:])
    return found


@pytest.fixture
async def data_source_role(migrated: Settings) -> Iterator[tuple[str, str]]:
    """A Postgres role with a password of its own (name, password), dropped afterwards."""
    assert migrated.postgres.migrate_dsn is not None
    admin = migrated.postgres.migrate_dsn.get_secret_value()
    name, password = f"ds_{uuid.uuid4().hex[:10]}", f"pw-{secrets.token_hex(16)}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
        yield name, password
    finally:
        await conn.execute(f"DROP ROLE IF EXISTS {name}")
        await conn.close()


def test_flows_log_no_secret(
    migrated: Settings,
    data_source_role: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="rivergen")
    assert migrated.postgres.migrate_dsn is not None
    pg = urlsplit(migrated.postgres.migrate_dsn.get_secret_value())
    settings = migrated.model_copy(
        update={
            "connectors": migrated.connectors.model_copy(
                update={"postgres_allow_hosts": [f"{pg.hostname}:{pg.port}"]}
            )
        }
    )
    clear_login_throttle(settings)
    seen: set[str] = set()
    with (
        live_server(settings, access_log=True) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as api,
    ):
        owner = register(api, "secretive")
        seen |= {owner.password, owner.access_token, owner.refresh_token}

        wrong = f"wrong-{secrets.token_hex(12)}"
        seen.add(wrong)
        refused = api.post("/api/v1/auth/login", json={"email": owner.email, "password": wrong})
        assert refused.status_code == 401, refused.text
        login = api.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": owner.password}
        )
        assert login.status_code == 200, login.text
        seen |= {login.json()["access_token"], login.json()["refresh_token"]}
        refreshed = api.post(
            "/api/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
        )
        assert refreshed.status_code == 200, refreshed.text
        seen |= {refreshed.json()["access_token"], refreshed.json()["refresh_token"]}

        key = api.post(
            "/api/v1/api-keys", json={"name": "ci", "role": "editor"}, headers=owner.headers()
        )
        assert key.status_code == 201, key.text
        api_key = key.json()["key"]
        seen.add(api_key)
        by_key = {"Authorization": f"Bearer {api_key}"}
        assert api.get("/api/v1/storage/files", headers=by_key).status_code == 200

        data = secrets.token_bytes(1024)
        started = api.post(
            "/api/v1/storage/uploads",
            json={"name": "s.bin", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
            headers=owner.headers(),
        )
        assert started.status_code == 201, started.text
        parts = []
        for target in started.json()["parts"]:
            query = parse_qs(urlsplit(target["url"]).query)
            signature = query.get("X-Amz-Signature", [""])[0]
            assert signature, target["url"]
            seen.add(signature)
            # Straight to S3, as a client does. This test's own client would log the
            # presigned URL it sends (the client's business, not the platform's): muted.
            with caplog.at_level(logging.WARNING, logger="httpx"):
                put = httpx.put(target["url"], content=data, timeout=30)
            assert put.status_code == 200, put.text
            parts.append({"part_number": target["part_number"], "etag": put.headers["etag"]})
        done = api.post(
            f"/api/v1/storage/uploads/{started.json()['upload_id']}/complete",
            json={"parts": parts},
            headers=owner.headers(),
        )
        assert done.status_code == 201, done.text
        download = api.get(f"/api/v1/storage/files/{done.json()['id']}", headers=owner.headers())
        assert download.status_code == 200, download.text

        role, password = data_source_role
        seen.add(password)
        for secret, expected in ((password, 200), (f"bad-{secrets.token_hex(12)}", 400)):
            seen.add(secret)
            dsn = f"postgresql://{role}:{secret}@{pg.hostname}:{pg.port}{pg.path}"
            source = api.post(
                "/api/v1/data-sources",
                json={
                    "name": f"s-{uuid.uuid4().hex[:8]}",
                    "config": {"kind": "postgres", "dsn": dsn, "query": "SELECT 1 AS one"},
                },
                headers=owner.headers(),
            )
            assert source.status_code == 201, source.text
            discovered = api.post(
                f"/api/v1/data-sources/{source.json()['id']}/discover-schema",
                headers=owner.headers(),
            )
            assert discovered.status_code < 500, discovered.text
            assert (discovered.status_code == 200) == (expected == 200), discovered.text

        logout = api.post("/api/v1/auth/logout", headers=owner.headers())
        assert logout.status_code in (200, 204), logout.text

    captured = capfd.readouterr()
    logged = "\n".join([caplog.text, captured.out, captured.err])
    assert "POST /api/v1/auth/login" in logged  # the access log was captured
    for secret in seen:
        for piece in fragments(secret):
            assert piece not in logged, f"a secret was logged: …{piece[-6:]}"
