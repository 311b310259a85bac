"""The 200 MB acceptance: a file sent through the part URLs with plain HTTP PUTs (no boto3) to
the S3 server comes back byte-identical through the presigned download URL. Neither side holds
more than a few parts in memory."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from rivergen.settings import Settings
from tests.integration.api_client import register
from tests.platform_app import create_app

MiB = 1024 * 1024
SIZE = 200 * MiB + 12345  # not a whole number of parts
PART = 16 * MiB
PARALLEL = 4


def write_random_file(path: Path, size: int, seed: int) -> str:
    """Seeded random bytes, generated a chunk at a time; their SHA-256."""
    rng = np.random.default_rng(seed)
    sha = hashlib.sha256()
    with path.open("wb") as fh:
        left = size
        while left:
            chunk = rng.bytes(min(PART, left))
            sha.update(chunk)
            fh.write(chunk)
            left -= len(chunk)
    return sha.hexdigest()


def read_part(path: Path, number: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek((number - 1) * PART)
        return fh.read(PART)


@pytest.fixture
async def gateway(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(migrated)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://storage", timeout=300
        ) as http:
            yield http


@pytest.mark.slow
async def test_200_mb_round_trip_is_byte_identical(
    gateway: httpx.AsyncClient, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    sha256 = await asyncio.to_thread(write_random_file, source, SIZE, seed=20261129)
    owner = await register(gateway, "big")
    started = await gateway.post(
        "/api/v1/storage/uploads",
        json={"name": "big.bin", "size": SIZE, "sha256": sha256, "part_size": PART},
        headers=owner.headers(),
    )
    assert started.status_code == 201, started.text
    body = started.json()
    assert len(body["parts"]) == 13

    limit = asyncio.Semaphore(PARALLEL)
    async with httpx.AsyncClient(timeout=300) as plain:

        async def send(target: dict[str, Any]) -> dict[str, Any]:
            async with limit:
                data = await asyncio.to_thread(read_part, source, target["part_number"])
                put = await plain.put(target["url"], content=data)
            assert put.status_code == 200, put.text
            return {"part_number": target["part_number"], "etag": put.headers["etag"]}

        parts = await asyncio.gather(*(send(target) for target in body["parts"]))
        done = await gateway.post(
            f"/api/v1/storage/uploads/{body['upload_id']}/complete",
            json={"parts": parts},
            headers=owner.headers(),
        )
        assert done.status_code == 201, done.text
        file = done.json()
        assert (file["size"], file["sha256"]) == (SIZE, sha256)
        try:
            info = await gateway.get(f"/api/v1/storage/files/{file['id']}", headers=owner.headers())
            received = hashlib.sha256()
            size = 0
            async with plain.stream("GET", info.json()["download_url"]) as download:
                assert download.status_code == 200
                async for chunk in download.aiter_bytes(MiB):
                    received.update(chunk)
                    size += len(chunk)
            assert (size, received.hexdigest()) == (SIZE, sha256)
        finally:
            # The S3 server holds objects in memory: give the space back.
            await gateway.delete(f"/api/v1/storage/files/{file['id']}", headers=owner.headers())
