"""Read-only SQL for Postgres sources, checked by parsing (sqlglot), not by pattern matching.

The parse is the first wall and gives a clear error; the second is that every read runs in a
``READ ONLY`` transaction with a ``statement_timeout``, so a write the parser missed (a
side-effecting function, say) is refused by Postgres itself.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from rivergen.engine.sandbox import WRITES
from rivergen.errors import BadRequest


class QueryRefused(BadRequest):
    code = "query_not_read_only"


def check_read_only_query(query: str) -> str:
    """The query, if it is exactly one SELECT (or UNION/INTERSECT/EXCEPT of them, with CTEs)
    that neither writes nor locks; else :class:`QueryRefused`."""
    try:
        statements = [s for s in sqlglot.parse(query, read="postgres") if s is not None]
    except ParseError as exc:
        raise QueryRefused(
            f"the query does not parse: {str(exc).splitlines()[0]}", code="invalid_query"
        ) from None
    if len(statements) != 1:
        raise QueryRefused("give exactly one statement", code="multiple_statements")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise QueryRefused(f"only SELECT is allowed, not {statement.key.upper()}")
    for node in statement.walk():
        if isinstance(node, WRITES):
            raise QueryRefused(f"only reading is allowed: the query has {node.key.upper()}")
        if isinstance(node, exp.Placeholder | exp.Parameter):
            raise QueryRefused("parameters are not supported", code="invalid_query")
    return query.strip().rstrip(";").strip()


def qualified_table(table: str) -> str:
    """A table name given as ``name`` or ``schema.name``, quoted for Postgres; unquoted parts
    fold to lower case, as Postgres folds them."""
    try:
        parsed = exp.to_table(table, dialect="postgres")
    except ParseError:
        raise QueryRefused(f"{table!r} is not a table name", code="invalid_table") from None
    if parsed.args.get("catalog") is not None or not parsed.name:
        raise QueryRefused(
            f"{table!r} is not a table name: use name or schema.name", code="invalid_table"
        )
    return normalize_identifiers(parsed, dialect="postgres").sql(dialect="postgres", identify=True)


def table_select(table: str) -> str:
    """``SELECT * FROM`` the table (see :func:`qualified_table`)."""
    return f"SELECT * FROM {qualified_table(table)}"
