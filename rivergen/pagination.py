"""Keyset pagination: newest first, an opaque cursor naming the last row a page showed."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from uuid import UUID

from rivergen.errors import BadRequest


def encode_cursor(row: Any) -> str:
    """The cursor after ``row`` (a record with ``created_at`` and ``id``)."""
    raw = f"{row['created_at'].isoformat()}|{row['id']}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str | None) -> tuple[datetime | None, UUID | None]:
    """``(created_at, id)`` of the last row seen, or ``(None, None)`` for the first page."""
    if not cursor:
        return None, None
    try:
        created, ident = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created), UUID(ident)
    except ValueError:
        raise BadRequest("the cursor is not one this API gave", code="invalid_cursor") from None


def after_cursor(n: int, table: str = "") -> str:
    """The WHERE condition for rows after a cursor, whose two values are parameters ``$n`` and
    ``$n+1``; ``table`` qualifies the columns."""
    p = f"{table}." if table else ""
    return f"(${n}::timestamptz IS NULL OR ({p}created_at, {p}id) < (${n}, ${n + 1}))"
