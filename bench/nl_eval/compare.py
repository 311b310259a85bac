"""When an answer is the expected one.

An answer (the provider's SQL run on the engine) is **exact** when, for its expected answer
(the hand-written SQL run on the same engine, or one of its ``also`` readings):

1. it has the same number of rows;
2. each expected column has its own answer column holding the same values: every expected
   column is matched to a different answer column, and the rows read through that matching
   are the expected rows as a multiset (names and order of columns do not matter). Answer
   columns left over are ignored: the name next to an asked price, the measure next to an
   asked name, ``SELECT *`` for a list of things. Expected columns named ``_order...`` are not
   part of the answer (see 4);
3. values are equal after normalising: numbers (integers, floats, decimals, booleans as 0/1)
   within 1e-6 relative (1e-9 absolute near zero); dates and timestamps as ISO dates (with the
   time when it is not midnight); NULL equals only NULL; text exactly. A period may be written
   either way: the year 1997 and the date 1997-01-01, the month '1997-03' and the date
   1997-03-01. For a share, a fraction is accepted where a percentage is expected (0.25 for 25);
4. for a question whose order is part of the answer (``ordered``), the rows come in the
   expected order; where the expected SQL has ``_order`` columns, rows that tie on them may
   come in any order among themselves.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa

REL_TOL = 1e-6
ABS_TOL = 1e-9
ORDER_PREFIX = "_order"
_YEAR_START = re.compile(r"^(\d{4})-01-01$")
_MONTH_START = re.compile(r"^(\d{4}-\d{2})-01$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")

Column = list[Any]


def normalize(value: Any) -> Any:
    """A value as compared (see the module)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None and value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 86400
    return str(value)


def columns_of(table: pa.Table) -> tuple[list[str], list[Column]]:
    """Column names and normalized values, by position (a name may repeat)."""
    return table.column_names, [
        [normalize(v) for v in table.column(i).to_pylist()] for i in range(table.num_columns)
    ]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def same_value(x: Any, y: Any) -> bool:
    if x is None or y is None:
        return x is None and y is None
    if _is_number(x) and _is_number(y):
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            return True
        return math.isclose(x, y, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return bool(x == y)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if _is_number(value):
        return (1, -math.inf if math.isnan(value) else value)
    return (2, str(value))


def _same_multiset(expected: Column, got: Column) -> bool:
    return len(expected) == len(got) and all(
        same_value(x, y)
        for x, y in zip(sorted(expected, key=_sort_key), sorted(got, key=_sort_key), strict=True)
    )


def _all(column: Column, test: Callable[[Any], bool]) -> bool:
    values = [v for v in column if v is not None]
    return bool(values) and all(test(v) for v in values)


def _readings(expected: Column, got: Column, share: bool) -> list[Column]:
    """The answer column as written, and as the expected column's period or share reads it."""
    readings = [got]
    if _all(expected, lambda v: isinstance(v, int)) and _all(
        got, lambda v: isinstance(v, str) and bool(_YEAR_START.match(v[:10]))
    ):
        readings.append([None if v is None else int(v[:4]) for v in got])
    if _all(expected, lambda v: isinstance(v, str) and bool(_YEAR_START.match(v))) and _all(
        got, lambda v: isinstance(v, int)
    ):
        readings.append([None if v is None else f"{v:04d}-01-01" for v in got])
    if _all(expected, lambda v: isinstance(v, str) and bool(_MONTH.match(v))) and _all(
        got, lambda v: isinstance(v, str) and bool(_MONTH_START.match(v[:10]))
    ):
        readings.append([None if v is None else v[:7] for v in got])
    if _all(expected, lambda v: isinstance(v, str) and bool(_MONTH_START.match(v))) and _all(
        got, lambda v: isinstance(v, str) and bool(_MONTH.match(v))
    ):
        readings.append([None if v is None else f"{v}-01" for v in got])
    if share and _all(got, _is_number):
        readings.append([None if v is None else v * 100 for v in got])
    return readings


def _rows_match(expected: list[tuple[Any, ...]], got: list[tuple[Any, ...]]) -> list[int] | None:
    """For each expected row, the position of a distinct equal answer row (None: no match)."""
    used = [False] * len(got)
    found: list[int] = []
    for row in expected:
        for j, other in enumerate(got):
            if not used[j] and all(same_value(x, y) for x, y in zip(row, other, strict=True)):
                used[j] = True
                found.append(j)
                break
        else:
            return None
    return found


def _ordered_ok(
    expected: list[tuple[Any, ...]],
    keys: list[tuple[Any, ...]] | None,
    got: list[tuple[Any, ...]],
) -> bool:
    if keys is None:
        return all(
            all(same_value(x, y) for x, y in zip(a, b, strict=True))
            for a, b in zip(expected, got, strict=True)
        )
    # Position i of the answer must hold a row the expected answer has at a position tied with i.
    for i, row in enumerate(got):
        if not any(
            all(same_value(x, y) for x, y in zip(expected[j], row, strict=True))
            and all(same_value(x, y) for x, y in zip(keys[j], keys[i], strict=True))
            for j in range(len(expected))
        ):
            return False
    return True


def matches(
    expected: pa.Table, got: pa.Table, *, ordered: bool = False, share: bool = False
) -> bool:
    """Whether ``got`` is the ``expected`` answer (see the module)."""
    if expected.num_rows != got.num_rows:
        return False
    names, columns = columns_of(expected)
    answer = [c for n, c in zip(names, columns, strict=True) if not n.startswith(ORDER_PREFIX)]
    order = [c for n, c in zip(names, columns, strict=True) if n.startswith(ORDER_PREFIX)]
    _, got_columns = columns_of(got)
    if not answer:
        return True
    candidates: list[list[tuple[int, Column]]] = []
    for column in answer:
        found = [
            (j, reading)
            for j, other in enumerate(got_columns)
            for reading in _readings(column, other, share)
            if _same_multiset(column, reading)
        ]
        if not found:
            return False
        candidates.append(found)
    expected_rows = list(zip(*answer, strict=True))
    keys = list(zip(*order, strict=True)) if order else None
    for choice in itertools.product(*candidates):
        if len({j for j, _ in choice}) != len(choice):
            continue
        got_rows = list(zip(*(reading for _, reading in choice), strict=True))
        if _rows_match(expected_rows, got_rows) is None:
            continue
        if not ordered or _ordered_ok(expected_rows, keys, got_rows):
            return True
    return False


def matches_any(
    expected: Sequence[pa.Table], got: pa.Table, *, ordered: bool = False, share: bool = False
) -> bool:
    return any(matches(e, got, ordered=ordered, share=share) for e in expected)
