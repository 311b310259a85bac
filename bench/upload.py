"""Upload throughput of one ~200 MB file: through the platform's direct upload against boto3's
`upload_file` to the same S3 server.

  platform  `POST /storage/uploads` -> the part URLs PUT in parallel with httpx (no boto3; the
            same part size and parallelism as boto3's default TransferConfig) ->
            `POST /storage/uploads/{id}/complete`, which verifies the object (it reads it back
            from S3: size, SHA-256, multipart ETag) before the file exists
  boto3     `S3Client.upload_file` with boto3's default TransferConfig (8 MiB parts, 10 threads)

The platform runs as the whole API under one uvicorn worker (the reference for the app alone,
as bench/gateway.py measures Serve's ingress); the S3 server is the one from `scripts/services`.
The client's SHA-256 of the file, which the platform needs at the start, is timed apart. Runs
alternate, the median counts. Prints one UploadResult as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import httpx
import numpy as np
from pydantic import BaseModel

from bench.api import direct_upload
from bench.load import wait_for
from rivergen.accounts.credentials import generate_private_key_pem
from rivergen.settings import load_settings

PORT = 28801
BASE = f"http://127.0.0.1:{PORT}"
MiB = 1024 * 1024


class UploadResult(BaseModel):
    size_bytes: int
    part_size: int
    parallel: int
    runs: int
    platform_s: float
    boto3_s: float
    client_sha256_s: float
    start_s: float = 0.0
    puts_s: float = 0.0
    complete_s: float = 0.0

    @property
    def platform_mb_s(self) -> float:
        return self.size_bytes / MiB / self.platform_s

    @property
    def boto3_mb_s(self) -> float:
        return self.size_bytes / MiB / self.boto3_s


def write_random_file(path: Path, size: int, seed: int = 20261129) -> None:
    rng = np.random.default_rng(seed)
    with path.open("wb") as fh:
        left = size
        while left:
            chunk = rng.bytes(min(16 * MiB, left))
            fh.write(chunk)
            left -= len(chunk)


def sha256_of(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(4 * MiB):
            sha.update(chunk)
    return sha.hexdigest()


def read_part(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read(size)


async def platform_upload(
    path: Path, size: int, sha256: str, token: str, part_size: int, parallel: int
) -> tuple[float, float, float]:
    """One direct upload through the platform: seconds to start, to PUT the parts, to
    complete (the platform's verification)."""
    auth = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=parallel + 2)
    async with httpx.AsyncClient(base_url=BASE, timeout=600, limits=limits) as http:

        async def read(offset: int, length: int) -> bytes:
            return await asyncio.to_thread(read_part, path, offset, length)

        file_id, phases = await direct_upload(
            http, auth, path.name, size, sha256, read, part_size=part_size, parallel=parallel
        )
        # The S3 server holds objects in memory: give the space back.
        await http.delete(f"/api/v1/storage/files/{file_id}", headers=auth)
    return phases


def boto3_upload(path: Path) -> float:
    settings = load_settings().s3
    assert settings.bucket is not None
    client = boto3.client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=settings.access_key_id.get_secret_value()
        if settings.access_key_id
        else None,
        aws_secret_access_key=settings.secret_access_key.get_secret_value()
        if settings.secret_access_key
        else None,
    )
    key = f"bench/upload-{uuid.uuid4().hex}"
    began = time.perf_counter()
    client.upload_file(str(path), settings.bucket, key)
    elapsed = time.perf_counter() - began
    client.delete_object(Bucket=settings.bucket, Key=key)
    return elapsed


def register() -> str:
    response = httpx.post(
        f"{BASE}/api/v1/auth/register",
        json={
            "email": f"bench-{uuid.uuid4().hex[:12]}@example.com",
            "password": "benchmark password",
            "display_name": "Bench",
        },
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def measure(size: int, part_size: int, parallel: int, runs: int) -> UploadResult:
    with tempfile.TemporaryDirectory(prefix="rivergen-bench-") as tmp:
        path = Path(tmp) / "upload.bin"
        write_random_file(path, size)
        began = time.perf_counter()
        sha256 = sha256_of(path)
        hashing = time.perf_counter() - began
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "deployments.compose:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(PORT),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
        )
        try:
            wait_for(f"{BASE}/healthz")
            token = register()
            phases: list[tuple[float, float, float]] = []
            reference: list[float] = []
            for _ in range(runs):
                phases.append(
                    asyncio.run(platform_upload(path, size, sha256, token, part_size, parallel))
                )
                reference.append(boto3_upload(path))
                print(
                    f"platform {sum(phases[-1]):.2f} s {phases[-1]}, boto3 {reference[-1]:.2f} s",
                    file=sys.stderr,
                )
        finally:
            server.terminate()
            server.wait(30)
    return UploadResult(
        size_bytes=size,
        part_size=part_size,
        parallel=parallel,
        runs=runs,
        platform_s=statistics.median(sum(p) for p in phases),
        boto3_s=statistics.median(reference),
        client_sha256_s=hashing,
        start_s=statistics.median(p[0] for p in phases),
        puts_s=statistics.median(p[1] for p in phases),
        complete_s=statistics.median(p[2] for p in phases),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=200)
    # boto3's default TransferConfig: 8 MiB parts, 10 at once.
    parser.add_argument("--part-mb", type=int, default=8)
    parser.add_argument("--parallel", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ["RIVERGEN_GATEWAY__RATE_LIMIT"] = "false"
    os.environ.setdefault("RIVERGEN_AUTH__JWT_PRIVATE_KEY", generate_private_key_pem())
    result = measure(args.size_mb * MiB, args.part_mb * MiB, args.parallel, args.runs)
    print(result.model_dump_json())


if __name__ == "__main__":
    main()
