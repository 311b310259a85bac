"""The platform as the benchmarks drive it: the API app in this process, an account, direct
uploads, datasets and jobs through the HTTP API.

    async with serving(port) as (app, http):      # migrations, create_app, uvicorn on loopback
        headers = await sign_up(http)             # a new account; its bearer and workspace
        await set_plan(app, headers, "premium")   # more requests a minute, storage and jobs
        file_id, _ = await direct_upload(http, headers, "t.parquet", size, sha256, read)
        job = await wait_job(http, headers, job_id)

Every request goes through :func:`call`, which waits out a 429 (``Retry-After``) and sends the
request again, so a benchmark paced below its plan's limit still ends if it brushes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from rivergen.api.registry import registry_of
from rivergen.settings import Settings

FINISHED = ("succeeded", "failed", "cancelled")


async def own_database(settings: Settings, name: str) -> Settings:
    """``settings`` with Postgres moved to the database ``name`` on the same server (created
    if missing). Every job supervisor adopts each queued or running job of its database, and
    the test services' database is shared by whoever runs the platform on this machine: in a
    database of its own, a benchmark's jobs are run by its own supervisor only."""

    def moved(dsn: SecretStr) -> SecretStr:
        return SecretStr(urlunsplit(urlsplit(dsn.get_secret_value())._replace(path=f"/{name}")))

    postgres = settings.postgres
    assert postgres.dsn is not None
    admin = postgres.migrate_dsn or postgres.dsn
    conn = await asyncpg.connect(admin.get_secret_value())
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return settings.model_copy(
        update={
            "postgres": postgres.model_copy(
                update={
                    "dsn": moved(postgres.dsn),
                    "migrate_dsn": moved(admin),
                }
            )
        }
    )


@contextlib.asynccontextmanager
async def serving(
    port: int, *, rate_limit: bool = True, timeout_s: float = 600, database: str | None = None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The whole API (``create_app``, its services in this process, jobs on this process's Ray)
    under uvicorn on ``127.0.0.1:port``, migrations applied; an HTTP client on it. With
    ``database``, in that Postgres database (:func:`own_database`)."""
    from deployments.compose import create_app
    from rivergen.db import MigrationRunner
    from rivergen.settings import load_settings

    settings = load_settings()
    if database is not None:
        settings = await own_database(settings, database)
    assert settings.postgres.migrate_dsn is not None
    await MigrationRunner(settings.postgres.migrate_dsn.get_secret_value()).apply()
    # Each run signs up its own accounts from this one address: registration's limit (which
    # no benchmark measures) would hold a run for up to an hour.
    settings = settings.model_copy(
        update={
            "gateway": settings.gateway.model_copy(update={"rate_limit": rate_limit}),
            "auth": settings.auth.model_copy(update={"registrations_per_hour": 1_000_000}),
        }
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    running = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers no event to wait on
        if running.done():
            running.result()  # the server could not start: raise its error
        await asyncio.sleep(0.05)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=timeout_s
        ) as http:
            yield app, http
    finally:
        server.should_exit = True
        await running


async def call(
    http: httpx.AsyncClient, method: str, url: str, *, expect: int | None = None, **kwargs: Any
) -> httpx.Response:
    """One API request; a 429 is waited out (``Retry-After``) and sent again. With ``expect``,
    any other status raises with the platform's error body."""
    while True:
        response = await http.request(method, url, **kwargs)
        if response.status_code != 429:
            break
        await asyncio.sleep(float(response.headers.get("retry-after", "1")))
    if expect is not None and response.status_code != expect:
        raise RuntimeError(
            f"{method} {url}: {response.status_code} (expected {expect}): {response.text[:2000]}"
        )
    return response


async def sign_up(http: httpx.AsyncClient, name: str = "bench") -> dict[str, str]:
    """Register a new account; the headers of its requests (bearer token, workspace)."""
    account = (
        await call(
            http,
            "POST",
            "/api/v1/auth/register",
            expect=201,
            json={
                "email": f"{name}-{uuid.uuid4().hex[:12]}@example.com",
                "password": "benchmark password",
                "display_name": name.title(),
            },
        )
    ).json()
    return {
        "Authorization": f"Bearer {account['access_token']}",
        "X-Workspace-ID": account["workspace_id"],
    }


async def set_plan(app: FastAPI, headers: dict[str, str], plan: str) -> None:
    """Put the workspace's organization on ``plan`` (as an operator would; there is no route
    for it). Call it before the account's first rate-limited request: the gateway caches a
    workspace's plan for a minute."""
    async with registry_of(app).clients.db.transaction() as conn:
        await conn.execute(
            "UPDATE organizations SET plan = $2 WHERE id = "
            "(SELECT organization_id FROM workspaces WHERE id = $1::uuid)",
            headers["X-Workspace-ID"],
            plan,
        )


async def direct_upload(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    name: str,
    size: int,
    sha256: str,
    read: Callable[[int, int], Awaitable[bytes]],
    *,
    part_size: int | None = None,
    parallel: int = 4,
) -> tuple[str, tuple[float, float, float]]:
    """Upload a file through the part URLs: start, PUT the parts (``read(offset, size)`` gives
    each one's bytes; ``parallel`` at once), complete. The file's id, and the seconds to start,
    to PUT the parts and to complete (the platform's verification)."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    body: dict[str, Any] = {"name": name, "size": size, "sha256": sha256}
    if part_size is not None:
        body["part_size"] = part_size
    started = (
        await call(http, "POST", "/api/v1/storage/uploads", expect=201, json=body, headers=headers)
    ).json()
    sent = loop.time()
    gate = asyncio.Semaphore(parallel)
    part = int(started["part_size"])

    async def send(target: dict[str, Any]) -> dict[str, Any]:
        async with gate:
            offset = (target["part_number"] - 1) * part
            data = await read(offset, min(part, size - offset))
            # A presigned S3 URL takes no platform credentials; the embedded store's part
            # route needs them.
            extra = headers if target["url"].startswith(str(http.base_url)) else {}
            put = await http.put(target["url"], content=data, headers=extra)
        put.raise_for_status()
        return {"part_number": target["part_number"], "etag": put.headers["etag"]}

    parts = await asyncio.gather(*(send(target) for target in started["parts"]))
    completing = loop.time()
    done = await call(
        http,
        "POST",
        f"/api/v1/storage/uploads/{started['upload_id']}/complete",
        expect=201,
        json={"parts": parts},
        headers=headers,
    )
    ended = loop.time()
    return str(done.json()["id"]), (sent - began, completing - sent, ended - completing)


async def create_dataset(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    name: str,
    file_id: str,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``POST /datasets`` from an uploaded file: the dataset as the platform shows it."""
    body: dict[str, Any] = {"name": name, "file_id": file_id}
    if options:
        body["options"] = options
    response = await call(http, "POST", "/api/v1/datasets", expect=201, json=body, headers=headers)
    dataset: dict[str, Any] = response.json()
    return dataset


async def wait_job(http: httpx.AsyncClient, headers: dict[str, str], job: str) -> dict[str, Any]:
    """``GET /jobs/{id}?wait_s=`` (a long poll) until the job has ended; its last view."""
    while True:
        response = await call(
            http, "GET", f"/api/v1/jobs/{job}", expect=200, headers=headers, params={"wait_s": 30}
        )
        body: dict[str, Any] = response.json()
        if body["state"] in FINISHED:
            return body
