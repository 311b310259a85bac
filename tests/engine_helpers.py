"""The typed query over tables given as the old positional form (left, right, joined)."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from rivergen.engine.query import run_spec
from rivergen.engine.spec import QuerySpec


def run_query(
    spec: QuerySpec,
    table: pa.Table,
    right: pa.Table | None = None,
    *,
    joined: Sequence[pa.Table] = (),
) -> pa.Table:
    """``spec`` on the engine: ``table`` is its dataset, ``right`` its ``join``'s, ``joined``
    each of its ``joins``' (in order)."""
    rights = ([right] if spec.join is not None and right is not None else []) + list(joined)
    tables = {spec.dataset: table}
    for join, other in zip(spec.all_joins, rights, strict=True):
        tables.setdefault(join.dataset, other)
    return run_spec(spec, tables)
