"""A semantic layer's measure as SQL: its expression (one value per row of its table) under its
aggregation, the columns qualified by the table when asked (a query that joins)."""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Tokenizer

DIALECT = "duckdb"
AGGREGATIONS = ("sum", "avg", "min", "max", "count", "count_distinct", "none")
_KEYWORDS = frozenset(k.upper() for k in Tokenizer.KEYWORDS)
_FUNCTIONS = {"sum": "SUM", "avg": "AVG", "min": "MIN", "max": "MAX", "count": "COUNT"}


class MeasureError(ValueError):
    """The expression is not one SQL value over columns."""


def parse_expression(expression: str) -> exp.Expr:
    """The expression's tree: one scalar SQL expression naming columns, never a query, a table
    or a statement (:class:`MeasureError` otherwise)."""
    try:
        tree = sqlglot.parse_one(expression, read=DIALECT)
    except (SqlglotError, RecursionError, ValueError) as exc:
        raise MeasureError(f"the expression does not parse: {_first_line(exc)}") from None
    if tree is None or any(
        isinstance(node, exp.Query | exp.Table | exp.Subquery | exp.Command)
        or (isinstance(node, exp.Star) and not isinstance(node.parent, exp.Count))
        for node in tree.walk()
    ):
        raise MeasureError(
            "a measure is one expression over its table's columns, not a query or `*`"
        )
    return tree


def is_aggregate(tree: exp.Expr) -> bool:
    return any(isinstance(node, exp.AggFunc) for node in tree.walk())


def measure_sql(
    expression: str, aggregation: str, *, table: str | None = None, function: str | None = None
) -> str:
    """``aggregation`` (or ``function``, one of sum/avg/min/max, applied to the row expression
    instead) of ``expression``; its columns qualified by ``table`` when given."""
    tree = parse_expression(expression).copy()
    if table is not None:
        for column in list(tree.find_all(exp.Column)):
            if not column.table:
                column.set("table", exp.to_identifier(table, quoted=_needs_quotes(table)))
    inner = tree.sql(dialect=DIALECT)
    how = function or aggregation
    if how == "none":
        return inner
    if how == "count_distinct":
        return f"COUNT(DISTINCT {inner})"
    if how not in _FUNCTIONS:
        raise MeasureError(f"no aggregation {how!r}: one of {', '.join(AGGREGATIONS)}")
    return f"{_FUNCTIONS[how]}({inner})"


def _needs_quotes(name: str) -> bool:
    return re.fullmatch(r"[a-z_][a-z0-9_]*", name) is None or name.upper() in _KEYWORDS


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
