"""Read every object under an S3 prefix (Parquet or CSV) as one Arrow table.

boto3 rather than ``pyarrow.fs.S3FileSystem``: the platform already talks to S3 through boto3
(same endpoint, credential and timeout handling, the same errors to translate), listing gives
each object's size so the byte limit is enforced before anything is downloaded, and it avoids a
second AWS SDK in the process (Arrow's C++ one, with its own global initialisation and
finalisation at exit). The calls run in a worker thread.

With the platform's own credentials (no keys in the source) only the platform's bucket under
``workspaces/<workspace id>/`` may be read: those credentials can read every workspace's
objects, so a source must not name another's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from uuid import UUID

import boto3
import pyarrow as pa
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from rivergen.connectors.addresses import check_destination
from rivergen.connectors.config import S3Source
from rivergen.connectors.tables import concat, parse
from rivergen.errors import BadRequest, Forbidden, PayloadTooLarge
from rivergen.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class _Target:
    endpoint_url: str | None
    region: str
    access_key_id: str | None
    secret_access_key: str | None


def workspace_prefix(workspace_id: UUID) -> str:
    """Where a workspace's own objects live in the platform's bucket."""
    return f"workspaces/{workspace_id}/"


def _platform_target(config: S3Source, settings: Settings, workspace_id: UUID | None) -> _Target:
    s3 = settings.s3
    if not s3.configured or s3.bucket is None:
        raise BadRequest(
            "the platform has no S3 storage: give the source its own endpoint and keys",
            code="s3_not_configured",
        )
    if config.endpoint_url not in (None, s3.endpoint_url):
        raise BadRequest(
            "give access keys for an endpoint other than the platform's",
            code="incomplete_credentials",
        )
    allowed = workspace_prefix(workspace_id) if workspace_id else None
    if config.bucket != s3.bucket or allowed is None or not config.prefix.startswith(allowed):
        raise Forbidden(
            "with the platform's credentials a source may read only the platform bucket under "
            f"the workspace's own prefix ({allowed or 'workspaces/<workspace id>/'})",
            code="destination_not_allowed",
        )
    return _Target(
        s3.endpoint_url,
        config.region or s3.region,
        s3.access_key_id.get_secret_value() if s3.access_key_id else None,
        s3.secret_access_key.get_secret_value() if s3.secret_access_key else None,
    )


async def _own_target(config: S3Source, settings: Settings) -> _Target:
    assert config.access_key_id is not None and config.secret_access_key is not None
    endpoint = config.endpoint_url or settings.s3.endpoint_url
    if endpoint is not None and endpoint != settings.s3.endpoint_url:
        parts = urlsplit(endpoint)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        # botocore resolves the name again when it connects: the allow-list, not pinning,
        # is what keeps an endpoint off internal addresses here.
        await check_destination(parts.hostname or "", port, settings.connectors.s3_allow_hosts)
    return _Target(
        endpoint,
        config.region or settings.s3.region,
        config.access_key_id.get_secret_value(),
        config.secret_access_key.get_secret_value(),
    )


def _client(target: _Target, timeout_s: float) -> S3Client:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=target.endpoint_url,
        region_name=target.region,
        aws_access_key_id=target.access_key_id,
        aws_secret_access_key=target.secret_access_key,
        config=Config(
            connect_timeout=timeout_s, read_timeout=timeout_s, retries={"max_attempts": 2}
        ),
    )


def _list(client: S3Client, config: S3Source, settings: Settings) -> list[tuple[str, int]]:
    limits = settings.connectors
    objects: list[tuple[str, int]] = []
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=config.bucket, Prefix=config.prefix
    )
    for page in pages:
        for item in page.get("Contents", []):
            key, size = item.get("Key", ""), item.get("Size", 0)
            if key.endswith("/") or size == 0:
                continue  # "folder" markers and empty objects hold no rows
            objects.append((key, size))
            if len(objects) > limits.s3_max_objects:
                raise PayloadTooLarge(
                    f"more than {limits.s3_max_objects} objects under the prefix",
                    code="too_many_objects",
                    details={"max_objects": limits.s3_max_objects},
                )
    if not objects:
        raise BadRequest("no objects under the prefix", code="source_empty")
    total = sum(size for _, size in objects)
    if total > limits.s3_max_bytes:
        raise PayloadTooLarge(
            f"the objects under the prefix hold {total} bytes, more than {limits.s3_max_bytes}",
            code="source_too_large",
            details={"max_bytes": limits.s3_max_bytes, "bytes": total},
        )
    return sorted(objects)


def _read_all(target: _Target, config: S3Source, settings: Settings, rows: int) -> pa.Table:
    client = _client(target, settings.connectors.http_timeout_s)
    try:
        tables: list[tuple[str, pa.Table]] = []
        count = 0
        for key, _ in _list(client, config, settings):
            data = client.get_object(Bucket=config.bucket, Key=key)["Body"].read()
            table = parse(data, config.format, key)
            tables.append((key, table))
            count += table.num_rows
            if count >= rows > 0:
                break  # enough rows for the caller; later objects are not fetched
        return concat(tables)
    finally:
        client.close()


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"NoSuchBucket", "404"}:
            return BadRequest("the bucket does not exist", code="source_not_found")
        if code in {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}:
            return Forbidden("the S3 source refused the credentials", code="source_auth_failed")
        return BadRequest(f"the S3 source failed: {code}", code="source_unreachable")
    if isinstance(exc, EndpointConnectionError):
        return BadRequest("the S3 endpoint did not answer", code="source_unreachable")
    return BadRequest(f"the S3 source failed: {type(exc).__name__}", code="source_unreachable")


async def read_s3(
    config: S3Source, settings: Settings, rows: int, workspace_id: UUID | None
) -> pa.Table:
    """The objects under the prefix as one table, reading objects until ``rows`` rows are had
    (all of them when ``rows`` is 0: a schema needs every file)."""
    if config.uses_platform_credentials:
        target = _platform_target(config, settings, workspace_id)
    else:
        target = await _own_target(config, settings)
    try:
        return await asyncio.to_thread(_read_all, target, config, settings, rows)
    except (ClientError, BotoCoreError) as exc:
        raise _translate(exc) from exc
