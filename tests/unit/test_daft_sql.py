"""The rewrites that let Daft plan SQL it refuses as written: decimal types as DuckDB gives them,
and correlated EXISTS with a non-equality comparison as correlated aggregates. Checked
against DuckDB itself: the types it names, and the answers it gives to the SQL as written."""

from __future__ import annotations

import decimal
import os
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from compute.daft_sql import (
    DecimalType,
    added,
    exists_as_aggregates,
    multiplied,
    typed_decimals,
)
from compute.distributed import NO_TELEMETRY, _as_single_node
from rivergen.engine.sandbox import DIALECT, parse

TYPES = [
    (1, 0),
    (4, 2),
    (9, 2),
    (10, 4),
    (15, 2),
    (16, 2),
    (18, 0),
    (18, 4),
    (18, 15),
    (19, 2),
    (20, 10),
    (30, 2),
    (38, 2),
    (38, 10),
]


def duckdb_type(sql: str) -> DecimalType | None:
    kind = duckdb.sql(f"SELECT {sql} AS v").types[0]
    text = str(kind)
    if not text.startswith("DECIMAL"):
        return None
    precision, scale = text.removeprefix("DECIMAL(").removesuffix(")").split(",")
    return DecimalType(int(precision), int(scale))


@pytest.mark.parametrize("left", TYPES)
@pytest.mark.parametrize("op", ["+", "-", "*"])
def test_arithmetic_types_are_duckdbs(left: tuple[int, int], op: str) -> None:
    for right in TYPES:
        sql = f"CAST(1 AS DECIMAL{left}) {op} CAST(1 AS DECIMAL{right})".replace(" ,", ",")
        try:
            expected = duckdb_type(sql)
        except duckdb.Error:
            expected = None  # a scale past 38: DuckDB refuses it
        a, b = DecimalType(*left), DecimalType(*right)
        assert (added(a, b) if op != "*" else multiplied(a, b)) == expected, sql


def on_daft(sql: str, tables: dict[str, pa.Table]) -> pa.Table:
    """``sql`` rewritten and run by Daft in this process (its local runner)."""
    os.environ.update(NO_TELEMETRY)
    import daft

    schemas = {name: table.schema for name, table in tables.items()}
    tree = typed_decimals(exists_as_aggregates(parse(sql), schemas), schemas)
    frames = {name: daft.from_arrow(table) for name, table in tables.items()}
    return daft.sql(tree.sql(dialect=DIALECT), **frames).to_arrow()


def on_duckdb(sql: str, tables: dict[str, pa.Table]) -> pa.Table:
    connection = duckdb.connect()
    for name, table in tables.items():
        connection.register(name, table)
    return connection.sql(sql).to_arrow_table()


def canonical(table: pa.Table) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(row.values()) for row in table.to_pylist()),
        key=lambda row: [(v is None, v if v is not None else 0) for v in row],
    )


def money(values: list[str | None], precision: int = 15) -> pa.Array:
    return pa.array(
        [decimal.Decimal(v) if v is not None else None for v in values],
        pa.decimal128(precision, 2),
    )


LINES = {
    "lines": pa.table(
        {
            "grp": ["a", "a", "b", "b", "c"],
            "price": money(["901.00", "12345678.45", "3.50", None, "0.01"]),
            "discount": money(["0.04", "0.10", "0.00", "0.05", "0.07"]),
            "tax": money(["0.02", "0.08", "0.01", "0.00", None]),
            "big": money(["999999999999999999.99", "1.00", "2.00", "3.00", "4.00"], 20),
        }
    )
}

DECIMAL_QUERIES = [
    # A product of three decimals and two integer literals (Daft: precision 61).
    "SELECT grp, sum(price * (1 - discount) * (1 + tax)) AS charge FROM lines GROUP BY grp",
    # A difference of products (Daft: precision 39).
    "SELECT grp, price * (1 - discount) - tax * price AS amount FROM lines",
    # A decimal and an integer literal in one CASE (Daft: no common type).
    "SELECT sum(CASE WHEN grp = 'a' THEN price * (1 - discount) ELSE 0 END) AS a_only FROM lines",
    "SELECT coalesce(tax, 0) AS tax, CASE WHEN grp = 'b' THEN 1 ELSE discount END AS d FROM lines",
    # Quotients and averages of decimals are DuckDB's doubles.
    "SELECT 100.00 * sum(price * discount) / sum(price) AS share, avg(discount) AS a FROM lines",
    # A wide column next to a narrow one, in a derived table's alias used outside it.
    "SELECT sum(v * 2) AS s FROM (SELECT big + price AS v FROM lines) AS t",
]


@pytest.mark.parametrize("sql", DECIMAL_QUERIES)
def test_decimal_arithmetic_runs_on_daft_as_duckdb_answers_it(sql: str) -> None:
    expected = on_duckdb(sql, LINES)
    answer = _as_single_node(on_daft(sql, LINES), expected.schema)
    assert answer.schema == expected.schema
    for got, want in zip(canonical(answer), canonical(expected), strict=True):
        for a, b in zip(got, want, strict=True):
            if isinstance(b, float):
                assert a == pytest.approx(b, rel=1e-12), sql
            else:
                assert a == b, sql


OUTER_INNER = {
    "outer_rows": pa.table(
        {
            "k": [1, 1, 2, 3, 4, None, 6, 7],
            "s": [1, 2, 1, None, 5, 1, 3, 2],
        }
    ),
    "inner_rows": pa.table(
        {
            "k": [1, 1, 2, 2, 3, 4, 6, 6, 7],
            "s": [1, 2, 1, None, 1, 5, 3, 3, None],
            "late": [True, False, True, True, False, True, False, True, True],
        }
    ),
}


@pytest.mark.parametrize(
    "condition",
    [
        "i.k = o.k AND i.s <> o.s",
        "i.k = o.k AND o.s <> i.s AND i.late",
        "o.k = i.k AND i.s < o.s",
        "i.k = o.k AND o.s <= i.s",
        "i.k = o.k AND i.s > o.s AND NOT i.late",
        "i.k = o.k AND i.s >= o.s + 1",
        "i.s <> o.s",
    ],
)
@pytest.mark.parametrize("negated", [False, True])
def test_exists_with_a_non_equality_correlation_answers_as_duckdb(
    condition: str, negated: bool
) -> None:
    sql = (
        f"SELECT o.k, o.s FROM outer_rows AS o WHERE {'NOT ' if negated else ''}EXISTS "
        f"(SELECT * FROM inner_rows AS i WHERE {condition})"
    )
    written = exists_as_aggregates(parse(sql), {n: t.schema for n, t in OUTER_INNER.items()})
    assert written.find(exp_exists()) is None, "rewritten"
    assert canonical(on_daft(sql, OUTER_INNER)) == canonical(on_duckdb(sql, OUTER_INNER))


def exp_exists() -> type[Any]:
    from sqlglot import exp

    return exp.Exists


@pytest.mark.parametrize(
    "sql",
    [
        # Equalities only: Daft decorrelates them itself.
        "SELECT k FROM outer_rows AS o WHERE EXISTS (SELECT * FROM inner_rows WHERE k = o.k)",
        # Two comparisons decide on the same inner row: no aggregate answers that.
        "SELECT k FROM outer_rows AS o WHERE EXISTS "
        "(SELECT * FROM inner_rows AS i WHERE i.k > o.k AND i.s < o.s)",
        # A derived table inside: its columns are not known.
        "SELECT k FROM outer_rows AS o WHERE EXISTS "
        "(SELECT * FROM (SELECT * FROM inner_rows) AS i WHERE i.k = o.k AND i.s <> o.s)",
    ],
)
def test_other_exists_are_left_as_written(sql: str) -> None:
    tree = parse(sql)
    schemas = {n: t.schema for n, t in OUTER_INNER.items()}
    assert exists_as_aggregates(tree, schemas).sql(dialect=DIALECT) == tree.sql(dialect=DIALECT)
