"""Object storage as Arrow sees it: the same bucket (or local directory) the platform's object
store uses, opened with ``pyarrow.fs`` so tasks read and write Parquet without a copy through
Python."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from rivergen.objectstore import validate_key
from rivergen.objectstore.s3 import s3_client
from rivergen.settings import S3Settings, Settings

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()

# How dataset versions and results are laid out. Row groups of DuckDB's own size (122,880 rows)
# let the engine's threads split a scan and skip groups by their statistics; Snappy, Parquet's
# usual codec, decodes faster than Zstandard (about a fifth of a scan's time on TPC-H) for a
# third more bytes stored. Decimals of up to 18 digits are stored as integers (INT32/INT64,
# as the Parquet spec recommends and most writers do) rather than fixed-length bytes: smaller,
# and DuckDB scans them about a tenth to a quarter faster on TPC-H's money columns.
PARQUET_LAYOUT: dict[str, Any] = {
    "compression": "snappy",
    "row_group_size": 122_880,
    "store_decimal_as_integer": True,
}


# Objects up to this size are written with one PUT; larger ones in parts, concurrently.
_ONE_REQUEST_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class EncodedParquet:
    """A Parquet file written on this node, waiting to be stored as an object."""

    path: str
    size: int


def _client(settings: S3Settings) -> Any:
    """One boto3 client per process and store (clients are thread-safe; making one costs
    tens of milliseconds of CPU, which small results paid on every write)."""
    key = settings.model_dump_json()
    with _clients_lock:
        if key not in _clients:
            _clients[key] = s3_client(settings)
        return _clients[key]


def _evict(cache_dir: str, max_bytes: int, keep: str) -> None:
    entries = []
    with os.scandir(cache_dir) as found:
        for entry in found:
            if entry.name.endswith(".parquet") and entry.path != keep:
                with contextlib.suppress(FileNotFoundError):
                    stat = entry.stat()
                    entries.append((stat.st_atime, stat.st_mtime, stat.st_size, entry.path))
    total = sum(e[2] for e in entries) + os.path.getsize(keep)
    for _, _, size, path in sorted(entries):
        if total <= max_bytes:
            break
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        total -= size


@dataclass(frozen=True)
class ArrowObjects:
    """Reads and writes objects by key; built in a task from the settings it was given."""

    filesystem: pafs.FileSystem
    base: str
    local: bool
    settings: S3Settings | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ArrowObjects:
        s3 = settings.s3
        if s3.configured:
            assert s3.bucket is not None
            endpoint = s3.endpoint_url or ""
            filesystem = pafs.S3FileSystem(
                access_key=s3.access_key_id.get_secret_value() if s3.access_key_id else None,
                secret_key=(
                    s3.secret_access_key.get_secret_value() if s3.secret_access_key else None
                ),
                region=s3.region,
                endpoint_override=endpoint.split("://", 1)[-1] or None,
                scheme="http" if endpoint.startswith("http://") else "https",
                connect_timeout=5,
                request_timeout=60,
            )
            return cls(filesystem, s3.bucket, local=False, settings=s3)
        return cls(pafs.LocalFileSystem(), str(settings.object_dir.resolve()), local=True)

    def path(self, key: str) -> str:
        validate_key(key)
        return f"{self.base}/{key}"

    def read_bytes(self, key: str) -> bytes:
        with self.filesystem.open_input_stream(self.path(key)) as stream:
            data: bytes = stream.readall()
        return data

    def local_file(self, key: str, cache_dir: str, max_bytes: int) -> str:
        """A path on this node to the (immutable) object ``key``: the object itself on a local
        store; else a copy in ``cache_dir``, fetched once (boto3's parallel download) and kept,
        the least recently used copies evicted past ``max_bytes``."""
        if self.local:
            return os.path.realpath(self.path(key))
        assert self.settings is not None
        os.makedirs(cache_dir, exist_ok=True)
        name = hashlib.sha256(f"{self.base}/{key}".encode()).hexdigest() + ".parquet"
        target = os.path.join(cache_dir, name)
        if os.path.exists(target):
            os.utime(target)
            return target
        tmp = os.path.join(cache_dir, f".{uuid.uuid4().hex}.part")
        try:
            _client(self.settings).download_file(self.base, validate_key(key), tmp)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        _evict(cache_dir, max_bytes, keep=target)
        return target

    def read_parquet(self, key: str, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(self.path(key), filesystem=self.filesystem, columns=columns)

    def write_parquet(self, key: str, table: pa.Table, row_group_size: int | None = None) -> int:
        """Write ``table`` as one Parquet object (row groups of ``row_group_size`` rows, else
        :data:`PARQUET_LAYOUT`'s); readers never see a partial one. Returns its size in bytes."""
        encoded = self.encode_parquet(table, row_group_size)
        self.put_encoded(key, encoded)
        return encoded.size

    def encode_parquet(self, table: pa.Table, row_group_size: int | None = None) -> EncodedParquet:
        """``table`` as a Parquet file of this node, not stored yet (:meth:`put_encoded`)."""
        directory = tempfile.gettempdir() if not self.local else f"{self.base}/.staging/tmp"
        os.makedirs(directory, exist_ok=True)
        tmp = f"{directory}/.{uuid.uuid4().hex}.parquet"
        try:
            layout = PARQUET_LAYOUT | ({"row_group_size": row_group_size} if row_group_size else {})
            pq.write_table(table, tmp, **layout)
            return EncodedParquet(tmp, os.path.getsize(tmp))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def put_encoded(self, key: str, encoded: EncodedParquet) -> None:
        """Store an encoded file as the object ``key`` (whole, or not at all); the file is
        gone afterwards either way."""
        try:
            if self.local:
                target = self.path(key)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(encoded.path, target)
                return
            # boto3 rather than Arrow's S3 writer: the same client settings as the platform's
            # store (Arrow's multipart completion is refused by some S3-compatible servers).
            assert self.settings is not None
            client = _client(self.settings)
            if encoded.size <= _ONE_REQUEST_BYTES:  # one PUT: the transfer manager's threads
                with open(encoded.path, "rb") as body:  # cost more than a small object
                    client.put_object(Bucket=self.base, Key=key, Body=body)
            else:
                client.upload_file(encoded.path, self.base, key)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(encoded.path)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.filesystem.delete_file(self.path(key))
