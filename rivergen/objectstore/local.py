"""The local directory adapter: the embedded object store of one-machine mode.

Layout under the root directory::

    <root>/<key>                          objects, one file per key
    <root>/.staging/tmp/                  files being written (then renamed into place)
    <root>/.staging/uploads/<upload_id>/  a multipart upload: manifest.json and parts/00001...

What a caller may rely on:

- Writes are atomic: a file is written and fsynced under ``.staging/tmp`` and renamed over the
  key with ``os.replace``, so a reader sees the old object or the new one, never a part of one.
- Nothing outside the root is ever read or written: keys follow the rules of
  :mod:`rivergen.objectstore.keys`, and a key whose real path (symbolic links resolved) leaves
  the root is refused like any invalid key.
- Multipart uploads behave as on S3 (same part rules, same verification, same errors), but a
  completed object is verified *before* it replaces anything under its key.
- Part bytes reach the store through the platform: the part URLs come from a caller-given
  template, and the endpoint behind them calls :meth:`LocalObjectStore.write_part`.

Unlike S3, a key cannot be both an object and the "directory" of other keys (``a/b`` and
``a/b/c``): the second write is refused with ``Conflict`` (code ``key_conflict``).
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import itertools
import os
import re
import secrets
import shutil
import stat
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, BinaryIO, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from rivergen.errors import (
    BadRequest,
    ConfigurationError,
    Conflict,
    DependencyUnavailable,
    NotFound,
    PayloadTooLarge,
    RiverGenError,
)
from rivergen.objectstore.keys import check_page_limit, validate_key, validate_prefix
from rivergen.objectstore.models import (
    CompletedPart,
    MultipartUpload,
    ObjectInfo,
    ObjectPage,
    PartTarget,
    UploadedPart,
    UploadSummary,
)
from rivergen.objectstore.multipart import (
    READ_CHUNK,
    DigestResult,
    ObjectDigest,
    check_content,
    check_new_upload,
    check_part_etags,
    check_part_layout,
    check_part_numbers,
    order_declared,
    parse_sha256,
)
from rivergen.objectstore.port import DEFAULT_PAGE_SIZE

T = TypeVar("T")

STAGING_DIR = ".staging"
DEFAULT_UPLOAD_EXPIRY_S = 3600

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_PART_FILE = re.compile(r"[0-9]{5}")


class _UploadManifest(BaseModel):
    key: str
    part_count: int
    part_size: int
    initiated: datetime
    expires_at: datetime


class LocalObjectStore:
    """Objects as files under one directory. Safe to share between threads and processes."""

    def __init__(
        self,
        root: Path,
        *,
        part_url_template: str | None = None,
        upload_expiry_s: int = DEFAULT_UPLOAD_EXPIRY_S,
    ) -> None:
        """``part_url_template``: where clients send parts, with ``{upload_id}`` and
        ``{part_number}`` placeholders (``{key}`` too, URL-quoted); may be given per call."""
        self._root = Path(root).resolve()
        self._tmp = self._root / STAGING_DIR / "tmp"
        self._uploads = self._root / STAGING_DIR / "uploads"
        if part_url_template is not None:
            _check_template(part_url_template)
        self._part_url_template = part_url_template
        self._upload_expiry_s = upload_expiry_s

    @property
    def kind(self) -> str:
        return "local"

    @property
    def root(self) -> Path:
        return self._root

    async def _run(self, call: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(call)
        except OSError as exc:
            raise _translate(exc) from exc

    async def close(self) -> None:
        return None

    async def ensure_bucket(self) -> None:
        await self._run(self._make_dirs)

    def _make_dirs(self) -> None:
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._uploads.mkdir(parents=True, exist_ok=True)

    async def ping(self, timeout_s: float) -> float:
        start = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                usable = await asyncio.to_thread(
                    lambda: self._root.is_dir() and os.access(self._root, os.W_OK | os.X_OK)
                )
        except TimeoutError as exc:
            raise DependencyUnavailable(
                f"the local object store did not answer within {timeout_s}s"
            ) from exc
        if not usable:
            raise DependencyUnavailable("the local object store directory is missing or read-only")
        return (time.perf_counter() - start) * 1000.0

    # -- paths --------------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        """The file of ``key``, refused if its real path would leave the root."""
        validate_key(key)
        path = self._root.joinpath(*key.split("/"))
        if not Path(os.path.realpath(path)).is_relative_to(self._root):
            raise BadRequest(f"invalid object key {key!r}: outside the store", code="invalid_key")
        return path

    def file_of(self, key: str) -> Path:
        """The file that holds ``key`` (for a route that streams it; objects are replaced
        atomically, never rewritten in place). ``NotFound`` if there is none."""
        path = self._path(key)
        if not path.is_file():
            raise _missing(key)
        return path

    def _new_tmp(self, directory: Path | None = None) -> Path:
        directory = directory or self._tmp
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f".{uuid.uuid4().hex}.tmp"

    def _publish(self, tmp: Path, target: Path, key: str) -> None:
        """Rename a finished file over ``key``'s path, making its directories."""
        for _ in range(3):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
                return
            except FileNotFoundError:
                continue  # a delete pruned the empty parent meanwhile: make it again
            except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
                raise Conflict(
                    f"key {key!r} collides with another key (an object cannot also be a prefix "
                    "of other objects in the local store)",
                    code="key_conflict",
                ) from exc
        raise DependencyUnavailable(f"could not write {key!r}: its directory kept vanishing")

    def _info(self, key: str, path: Path) -> ObjectInfo:
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise _missing(key) from exc
        if not stat.S_ISREG(st.st_mode):
            raise _missing(key)
        return _info_from_stat(key, st)

    # -- objects ------------------------------------------------------------------------------

    async def put(self, key: str, data: bytes) -> ObjectInfo:
        return await self._run(lambda: self._put_sync(key, data))

    def _put_sync(self, key: str, data: bytes) -> ObjectInfo:
        target = self._path(key)
        tmp = self._new_tmp()
        try:
            with tmp.open("wb") as fh:
                fh.write(data)
                _flush(fh)
                # Stat before the rename (which keeps inode and times): after it, a concurrent
                # write could already have replaced the file.
                written = os.fstat(fh.fileno())
            self._publish(tmp, target, key)
        finally:
            tmp.unlink(missing_ok=True)
        return _info_from_stat(key, written)

    async def put_file(self, key: str, source: BinaryIO) -> ObjectInfo:
        return await self._run(lambda: self._put_file_sync(key, source))

    def _put_file_sync(self, key: str, source: BinaryIO) -> ObjectInfo:
        target = self._path(key)
        tmp = self._new_tmp()
        try:
            source.seek(0)
            with tmp.open("wb") as fh:
                shutil.copyfileobj(source, fh, READ_CHUNK)
                _flush(fh)
                written = os.fstat(fh.fileno())
            self._publish(tmp, target, key)
        finally:
            tmp.unlink(missing_ok=True)
        return _info_from_stat(key, written)

    async def get(self, key: str) -> bytes:
        return await self._run(lambda: self._get_sync(key))

    def _get_sync(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise _missing(key) from exc

    async def stat(self, key: str) -> ObjectInfo:
        return await self._run(lambda: self._info(key, self._path(key)))

    async def delete(self, key: str) -> None:
        await self._run(lambda: self._delete_sync(key))

    def _delete_sync(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return
        # Drop directories left empty, so that the key space stays free for objects.
        for parent in path.parents:
            if parent == self._root:
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def _list_sync(self, prefix: str, limit: int, start_after: str) -> ObjectPage:
        head, _, _ = prefix.rpartition("/")
        base = self._root.joinpath(*head.split("/")) if head else self._root
        if not Path(os.path.realpath(base)).is_relative_to(self._root):
            return ObjectPage(items=[])
        found = list(
            itertools.islice(
                self._walk(base, f"{head}/" if head else "", prefix, start_after), limit + 1
            )
        )
        items = [_info_from_stat(key, st) for key, st in found[:limit]]
        truncated = len(found) > limit
        return ObjectPage(items=items, next_start_after=items[-1].key if truncated else None)

    def _walk(
        self, directory: Path, relative: str, prefix: str, start_after: str
    ) -> Iterator[tuple[str, os.stat_result]]:
        """Objects under ``directory`` in key order (UTF-8 byte order, as S3 lists them).

        A directory sorts as its name plus ``/``: every key below it starts with that, so a
        depth-first walk in that order yields keys in order, and a subtree that cannot hold a
        wanted key is skipped whole.
        """
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        named: list[tuple[str, os.DirEntry[str], bool]] = []
        for entry in entries:
            if not relative and entry.name.startswith("."):
                continue  # the store's own state; no key starts with "."
            if entry.is_dir(follow_symlinks=False):
                named.append((f"{relative}{entry.name}/", entry, True))
            elif entry.is_file(follow_symlinks=False):
                named.append((f"{relative}{entry.name}", entry, False))
        for name, entry, is_dir in sorted(named, key=lambda item: item[0]):
            if is_dir:
                if _subtree_wanted(name, prefix, start_after):
                    yield from self._walk(Path(entry.path), name, prefix, start_after)
            elif name.startswith(prefix) and name > start_after:
                yield name, entry.stat(follow_symlinks=False)

    # -- multipart ----------------------------------------------------------------------------

    def _targets(
        self, key: str, upload_id: str, part_numbers: Sequence[int], template: str | None
    ) -> list[PartTarget]:
        template = template or self._part_url_template
        if template is None:
            raise ConfigurationError(
                "the local object store needs a part URL template (the platform's part endpoint)"
            )
        _check_template(template)
        return [
            PartTarget(
                part_number=number,
                url=template.replace("{upload_id}", upload_id)
                .replace("{part_number}", str(number))
                .replace("{key}", quote(key, safe="")),
                method="PUT",
            )
            for number in part_numbers
        ]

    async def download_url(self, key: str, *, platform_url: str) -> str:
        validate_key(key)
        return platform_url

    async def create_multipart(
        self, key: str, part_count: int, part_size: int, *, part_url_template: str | None = None
    ) -> MultipartUpload:
        validate_key(key)
        check_new_upload(part_count, part_size)
        upload_id = secrets.token_hex(16)
        targets = self._targets(key, upload_id, range(1, part_count + 1), part_url_template)
        now = datetime.now(UTC)
        manifest = _UploadManifest(
            key=key,
            part_count=part_count,
            part_size=part_size,
            initiated=now,
            expires_at=now + timedelta(seconds=self._upload_expiry_s),
        )
        await self._run(lambda: self._create_upload_sync(upload_id, manifest))
        return MultipartUpload(
            upload_id=upload_id,
            key=key,
            part_size=part_size,
            parts=targets,
            expires_at=manifest.expires_at,
        )

    def _create_upload_sync(self, upload_id: str, manifest: _UploadManifest) -> None:
        self._path(manifest.key)
        (self._uploads / upload_id / "parts").mkdir(parents=True)
        self._write_manifest(upload_id, manifest)

    def _write_manifest(self, upload_id: str, manifest: _UploadManifest) -> None:
        directory = self._uploads / upload_id
        tmp = self._new_tmp(directory)
        try:
            tmp.write_text(manifest.model_dump_json())
            os.replace(tmp, directory / "manifest.json")
        except FileNotFoundError as exc:
            raise _upload_missing(upload_id) from exc
        finally:
            tmp.unlink(missing_ok=True)

    def _manifest(self, upload_id: str, key: str | None) -> _UploadManifest:
        """The upload's manifest; ``NotFound`` if it is gone or belongs to another key."""
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise _upload_missing(upload_id)
        try:
            text = (self._uploads / upload_id / "manifest.json").read_text()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise _upload_missing(upload_id) from exc
        manifest = _UploadManifest.model_validate_json(text)
        if key is not None and manifest.key != key:
            raise _upload_missing(upload_id)
        return manifest

    async def part_targets(
        self,
        key: str,
        upload_id: str,
        part_numbers: Sequence[int],
        *,
        part_url_template: str | None = None,
    ) -> list[PartTarget]:
        validate_key(key)
        check_part_numbers(part_numbers)
        targets = self._targets(key, upload_id, part_numbers, part_url_template)
        await self._run(lambda: self._extend_upload_sync(key, upload_id))
        return targets

    def _extend_upload_sync(self, key: str, upload_id: str) -> None:
        manifest = self._manifest(upload_id, key)
        expires_at = datetime.now(UTC) + timedelta(seconds=self._upload_expiry_s)
        self._write_manifest(upload_id, manifest.model_copy(update={"expires_at": expires_at}))

    async def write_part(
        self, upload_id: str, part_number: int, data: bytes | AsyncIterable[bytes]
    ) -> UploadedPart:
        """Store one part of an upload (what the part endpoint calls with the request body).

        ``data`` may be the whole part or a stream of chunks (a request body, never held in
        memory at once). Refused: an unknown or expired upload (``NotFound``), a part number
        outside the plan (``BadRequest``), a part larger than the planned part size
        (``PayloadTooLarge``). Writing a part again replaces it.
        """
        manifest = await self._run(lambda: self._manifest(upload_id, None))
        if datetime.now(UTC) >= manifest.expires_at:
            raise NotFound(f"upload {upload_id!r} expired", code="upload_expired")
        if not 1 <= part_number <= manifest.part_count:
            raise BadRequest(
                f"part number must be between 1 and {manifest.part_count}", code="invalid_parts"
            )
        parts_dir = self._uploads / upload_id / "parts"
        # Not made if missing: an upload aborted meanwhile must stay gone.
        tmp = parts_dir / f".{uuid.uuid4().hex}.tmp"
        try:
            md5, size = await self._receive(tmp, _chunks(data), manifest.part_size)
            await asyncio.to_thread(os.replace, tmp, parts_dir / f"{part_number:05d}")
        except FileNotFoundError as exc:
            raise _upload_missing(upload_id) from exc
        except OSError as exc:
            raise _translate(exc) from exc
        finally:
            await asyncio.to_thread(tmp.unlink, missing_ok=True)
        return UploadedPart(part_number=part_number, etag=md5, size=size)

    async def _receive(
        self, tmp: Path, chunks: AsyncIterator[bytes], limit: int
    ) -> tuple[str, int]:
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0
        fh = await asyncio.to_thread(tmp.open, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(
                        f"a part holds at most {limit} bytes", code="part_too_large"
                    )
                await asyncio.to_thread(_write_hashed, fh, md5, chunk)
            await asyncio.to_thread(_flush, fh)
        finally:
            await asyncio.to_thread(fh.close)
        return md5.hexdigest(), size

    def _part_files(self, upload_id: str) -> dict[int, Path]:
        parts_dir = self._uploads / upload_id / "parts"
        try:
            names = os.listdir(parts_dir)
        except FileNotFoundError as exc:
            raise _upload_missing(upload_id) from exc
        return {int(name): parts_dir / name for name in names if _PART_FILE.fullmatch(name)}

    async def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        """The parts received so far. Reads them to hash them (the local store keeps no
        per-part ETag), so it costs as much I/O as the parts hold."""
        validate_key(key)
        return await self._run(lambda: self._list_parts_sync(key, upload_id))

    def _list_parts_sync(self, key: str, upload_id: str) -> list[UploadedPart]:
        self._manifest(upload_id, key)
        parts = []
        for number, path in sorted(self._part_files(upload_id).items()):
            try:
                etag, size = _md5_of_file(path)
            except FileNotFoundError:
                continue  # replaced or aborted while we read
            parts.append(UploadedPart(part_number=number, etag=etag, size=size))
        return parts

    async def list_uploads(self, prefix: str = "") -> list[UploadSummary]:
        validate_prefix(prefix)
        return await self._run(lambda: self._list_uploads_sync(prefix))

    def _list_uploads_sync(self, prefix: str) -> list[UploadSummary]:
        try:
            upload_ids = [name for name in os.listdir(self._uploads) if _UPLOAD_ID.fullmatch(name)]
        except FileNotFoundError:
            return []
        uploads = []
        for upload_id in upload_ids:
            try:
                manifest = self._manifest(upload_id, None)
            except NotFound:
                continue
            if manifest.key.startswith(prefix):
                uploads.append(
                    UploadSummary(
                        key=manifest.key, upload_id=upload_id, initiated=manifest.initiated
                    )
                )
        return sorted(uploads, key=lambda upload: (upload.key, upload.upload_id))

    async def complete_multipart(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[CompletedPart],
        expected_size: int,
        expected_checksum: str,
    ) -> ObjectInfo:
        validate_key(key)
        declared = order_declared(parts, expected_size)
        expected_sha256 = parse_sha256(expected_checksum)
        return await self._run(
            lambda: self._complete_sync(key, upload_id, declared, expected_size, expected_sha256)
        )

    def _complete_sync(
        self,
        key: str,
        upload_id: str,
        declared: list[CompletedPart],
        expected_size: int,
        expected_sha256: str,
    ) -> ObjectInfo:
        self._manifest(upload_id, key)
        target = self._path(key)
        try:
            tmp = self._assemble_verified(upload_id, declared, expected_size, expected_sha256)
        except BadRequest:
            self._drop_upload(upload_id)
            raise
        try:
            written = tmp.stat()
            self._publish(tmp, target, key)
        finally:
            tmp.unlink(missing_ok=True)
        self._drop_upload(upload_id)
        return _info_from_stat(key, written)

    def _assemble_verified(
        self,
        upload_id: str,
        declared: list[CompletedPart],
        expected_size: int,
        expected_sha256: str,
    ) -> Path:
        """The declared parts concatenated into a temporary file and verified; nothing under
        the key changes until the caller publishes it."""
        files = self._part_files(upload_id)
        tmp = self._new_tmp()
        try:
            sizes = {number: path.stat().st_size for number, path in files.items()}
            part_sizes = check_part_layout(declared, sizes, expected_size)
            sources = [files[part.part_number] for part in declared]
            digest = _concatenate(sources, tmp, ObjectDigest(part_sizes))
            part_etags = {
                part.part_number: md5.hex()
                for part, md5 in zip(declared, digest.part_md5s, strict=False)
            }
            check_part_etags(declared, part_etags)
            check_content(digest, expected_sha256, expected_size, stored_etag=None)
        except FileNotFoundError as exc:
            tmp.unlink(missing_ok=True)
            raise _upload_missing(upload_id) from exc  # aborted meanwhile
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        validate_key(key)
        await self._run(lambda: self._abort_sync(key, upload_id))

    def _abort_sync(self, key: str, upload_id: str) -> None:
        try:
            self._manifest(upload_id, key)
        except NotFound:
            return
        self._drop_upload(upload_id)

    def _drop_upload(self, upload_id: str) -> None:
        # Renamed away first, so that a part arriving meanwhile finds no upload at once.
        trash = self._new_tmp()
        try:
            os.rename(self._uploads / upload_id, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    # Last in the class body: below it, `list` would name this method in annotations.
    async def list(
        self, prefix: str = "", limit: int = DEFAULT_PAGE_SIZE, start_after: str | None = None
    ) -> ObjectPage:
        validate_prefix(prefix)
        check_page_limit(limit)
        return await self._run(lambda: self._list_sync(prefix, limit, start_after or ""))


def _translate(exc: OSError) -> RiverGenError:
    if exc.errno == errno.ENAMETOOLONG:
        return BadRequest("a segment of the key is too long", code="invalid_key")
    # No path in the message: it may reach a client.
    return DependencyUnavailable(f"the local object store failed: {exc.strerror or exc}")


def _check_template(template: str) -> None:
    if "{upload_id}" not in template or "{part_number}" not in template:
        raise ConfigurationError(
            "a part URL template needs the placeholders {upload_id} and {part_number}"
        )


def _missing(key: str) -> NotFound:
    return NotFound(f"object {key!r} not found", code="object_not_found")


def _upload_missing(upload_id: str) -> NotFound:
    return NotFound(f"upload {upload_id!r} not found", code="upload_not_found")


def _info_from_stat(key: str, st: os.stat_result) -> ObjectInfo:
    # A weak validator (size, time, inode), as web servers make for files: hashing every object
    # on stat would cost its whole size in reads.
    etag = f"{st.st_size:x}-{st.st_mtime_ns:x}-{st.st_ino:x}"
    return ObjectInfo(
        key=key,
        size=st.st_size,
        etag=etag,
        last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
    )


def _subtree_wanted(directory: str, prefix: str, start_after: str) -> bool:
    """Whether keys starting with ``directory`` (which ends in ``/``) may be listed."""
    if not (directory.startswith(prefix) or prefix.startswith(directory)):
        return False
    # Every key below sorts before `start_after` when the directory itself does and is not
    # a prefix of it.
    return directory >= start_after or start_after.startswith(directory)


def _flush(fh: IO[bytes]) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def _write_hashed(fh: IO[bytes], md5: hashlib._Hash, chunk: bytes) -> None:
    md5.update(chunk)
    fh.write(chunk)


def _md5_of_file(path: Path) -> tuple[str, int]:
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(READ_CHUNK):
            md5.update(chunk)
            size += len(chunk)
    return md5.hexdigest(), size


def _concatenate(sources: Sequence[Path], target: Path, digest: ObjectDigest) -> DigestResult:
    with target.open("wb") as out:
        for source in sources:
            with source.open("rb") as fh:
                while chunk := fh.read(READ_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        _flush(out)
    return digest.finish()


async def _chunks(data: bytes | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        yield bytes(data)
        return
    async for chunk in data:
        if chunk:
            yield chunk
