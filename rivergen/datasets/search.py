"""The catalog's search documents and queries (Postgres full text, English stemming)."""

from __future__ import annotations

import re

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z_]+")
MAX_QUERY_TERMS = 16


def words(text: str) -> str:
    """``customerID``, ``unit_price`` and ``Unit Price`` all give searchable words: the parts,
    and each compound whole (so an exact column name matches too)."""
    out: list[str] = []
    for token in _NON_WORD.split(text):
        if not token:
            continue
        parts = _CAMEL.sub(r"\1 \2", token).replace("_", " ").lower().split()
        out.extend(parts)
        if len(parts) > 1:
            out.append("".join(parts))
    return " ".join(out)


def query_terms(q: str) -> list[str]:
    return list(dict.fromkeys(words(q).split()))[:MAX_QUERY_TERMS]


def tsquery(terms: list[str]) -> str:
    """Any term, each as a prefix: more terms matched (and in heavier fields) rank higher.
    Terms are [a-z0-9]+ only, so nothing in them is tsquery syntax."""
    return " | ".join(f"{term}:*" for term in terms)


def matched(terms: list[str], name: str) -> bool:
    parts = words(name).split()
    return any(part.startswith(term) for term in terms for part in parts)
