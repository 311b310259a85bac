"""The rules every object key follows, the same in every adapter.

Keys are opaque strings to the store (callers use ``workspaces/{workspace}/files/{file}/...``), but
both adapters refuse keys that could mean a path outside the store or collide with its own state:

- not empty, at most 1024 bytes in UTF-8 (the S3 limit);
- no leading ``/``, no empty segment (``a//b``, a trailing ``/``), no ``.`` or ``..`` segment;
- valid UTF-8, no control characters and no backslash;
- a first segment that does not start with ``.`` (reserved for the store's own state).
"""

from __future__ import annotations

import re

from rivergen.errors import BadRequest

MAX_KEY_BYTES = 1024
MAX_PAGE_SIZE = 1000

_FORBIDDEN_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


def validate_key(key: str) -> str:
    """Return ``key`` if it follows the rules, else raise ``BadRequest`` (code ``invalid_key``)."""
    problem = _key_problem(key)
    if problem is not None:
        raise BadRequest(f"invalid object key {key!r}: {problem}", code="invalid_key")
    return key


def validate_prefix(prefix: str) -> str:
    """Return a listing prefix if it could begin a valid key, else raise (``invalid_prefix``).

    The last segment may be partial (``workspaces/w1/fi``) or empty (``workspaces/w1/``).
    """
    if prefix == "":
        return prefix
    head, _, tail = prefix.rpartition("/")
    problem = _key_problem(head) if head else None
    if problem is None and (prefix.startswith("/") or _FORBIDDEN_CHARS.search(tail)):
        problem = "a leading '/' or a forbidden character"
    if problem is not None:
        raise BadRequest(f"invalid listing prefix {prefix!r}: {problem}", code="invalid_prefix")
    return prefix


def check_page_limit(limit: int) -> None:
    """A listing page holds 1 to 1000 objects (the S3 maximum)."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}", code="invalid_limit")


def _key_problem(key: str) -> str | None:
    if not key:
        return "empty"
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        return "not encodable as UTF-8"
    if len(encoded) > MAX_KEY_BYTES:
        return f"longer than {MAX_KEY_BYTES} bytes"
    if _FORBIDDEN_CHARS.search(key):
        return "control character or backslash"
    if key.startswith("/"):
        return "leading '/'"
    segments = key.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return "empty, '.' or '..' segment"
    if segments[0].startswith("."):
        return "a first segment starting with '.' is reserved"
    return None
