"""Admission: what SQL the engine may run, decided with sqlglot before anything executes.

One statement, and it must be a query (``SELECT``, ``WITH``, ``VALUES``, set operations): no
``PRAGMA``, ``SET``, ``ATTACH``, ``COPY``, ``INSTALL``, ``LOAD``, ``EXPORT``, writes or
transactions; no function that reads files or the environment (``read_csv``, ``glob``,
``getenv``, ``duckdb_settings()``, ...); every table it names is either one of its own CTEs or a
relation the caller resolves (a dataset as its reader may see it). What runs is the admitted
statement as sqlglot regenerates it, with tables renamed to their relations, never the text
as sent.

The engine's own sandbox (:mod:`rivergen.engine.duck`: external access off, configuration
locked) holds even if something passes this check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError

from rivergen.engine.memo import Memo
from rivergen.errors import BadRequest, ValidationFailed

DIALECT = "duckdb"
MAX_SQL_CHARS = 100_000

# Statements and clauses that write, lock, configure or leave plain querying (a data source's
# read-only SQL refuses the same: rivergen.connectors.sql).
WRITES: tuple[type[exp.Expr], ...] = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Into,
    exp.Lock,
    exp.Copy,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Command,
    exp.Set,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Use,
    exp.Pragma,
    exp.Attach,
    exp.Detach,
    exp.Export,
    exp.Install,
    exp.LoadData,
)
# Function-like nodes sqlglot types itself that read files.
_FILE_READERS: tuple[type[exp.Expr], ...] = (exp.ReadCSV, exp.ReadParquet)
# Table functions that only generate values.
_TABLE_GENERATORS: tuple[type[exp.Expr], ...] = (exp.GenerateSeries, exp.Unnest, exp.Explode)
# DuckDB functions (by name, or name prefix) that read files, the environment or the engine's
# own state.
_DENIED_NAMES: frozenset[str] = frozenset(
    {
        "getenv",
        "current_setting",
        "glob",
        "sniff_csv",
        "query",
        "query_table",
        "which_secret",
        "json_execute_serialized_sql",
        "checkpoint",
        "force_checkpoint",
        "load_extension",
        "enable_profiling",
        "disable_profiling",
        "enable_logging",
        "disable_logging",
        "read_text",
        "read_blob",
        "test_all_types",
        "summary",
    }
)
_DENIED_PREFIXES: tuple[str, ...] = (
    "read_",
    "duckdb_",
    "pragma_",
    "parquet_",
    "iceberg_",
    "delta_",
    "sqlite_",
    "postgres_",
    "mysql_",
    "excel_",
    "export_",
    "install_",
    "load_",
    "http",
    "s3_",
    "arrow_scan",
)


@dataclass
class Admitted:
    """An admitted query: its tree (tables renamed to relations), and which relation each
    table name it reads resolved to."""

    query: exp.Query
    relations: dict[str, str] = field(default_factory=dict)

    @property
    def sql(self) -> str:
        """The statement as the engine runs it: what sqlglot cannot write faithfully in the
        engine's dialect is refused (422 ``sql_invalid``), never approximated."""
        try:
            return self.query.sql(
                dialect=DIALECT, comments=False, unsupported_level=ErrorLevel.RAISE
            )
        except UnsupportedError as exc:
            raise sql_invalid(f"the SQL uses what the engine does not run: {exc}") from None


def refused(message: str, code: str, **details: object) -> BadRequest:
    return BadRequest(message, code=code, details=dict(details))


def sql_invalid(message: str, **details: object) -> ValidationFailed:
    """422 ``sql_invalid``: the SQL does not parse or bind; ``details`` say where."""
    return ValidationFailed(message, code="sql_invalid", details=dict(details))


def parse(sql: str) -> exp.Expr:
    """Exactly one statement (``sql_invalid``, ``sql_multiple_statements``)."""
    if len(sql) > MAX_SQL_CHARS:
        raise refused(f"the SQL is longer than {MAX_SQL_CHARS} characters", "sql_too_long")
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        raise sql_invalid(
            f"the SQL does not parse: {first.get('description') or exc}",
            line=first.get("line"),
            column=first.get("col"),
            near=first.get("highlight"),
        ) from None
    except TokenError as exc:
        raise sql_invalid(f"the SQL does not parse: {exc}") from None
    if len(statements) != 1:
        raise refused("give exactly one statement", "sql_multiple_statements")
    return statements[0]


def _function_name(node: exp.Func) -> str:
    return (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()


def _denied(name: str) -> bool:
    return name in _DENIED_NAMES or name.startswith(_DENIED_PREFIXES)


def check_node(node: exp.Expr) -> None:
    """Refuse a node that writes or configures (``sql_not_read_only``) or a function that
    reads files or the environment (``sql_function_not_allowed``)."""
    if (
        isinstance(node, exp.Fetch)
        and node.args.get("limit_options") is not None
        and (node.args["limit_options"].args.get("with_ties"))
    ):
        raise sql_invalid("FETCH ... WITH TIES is not supported: use rank() in a subquery")
    if isinstance(node, WRITES):
        raise refused(
            f"only reading is allowed: the SQL has {node.key.upper()}", "sql_not_read_only"
        )
    if isinstance(node, _FILE_READERS) or (
        isinstance(node, exp.Func) and _denied(_function_name(node))
    ):
        name = _function_name(node) if isinstance(node, exp.Func) else node.key
        raise refused(
            f"function {name!r} is not allowed: queries read datasets, never files or the "
            "environment",
            "sql_function_not_allowed",
            function=name,
        )


def _cte_names(query: exp.Expr) -> set[str]:
    return {cte.alias_or_name.casefold() for cte in query.find_all(exp.CTE)}


def admit(sql: str, resolve: Callable[[str], str | None]) -> Admitted:
    """Parse and check ``sql``; rename each table it reads to ``resolve(name)`` (a relation
    name; ``None``: 422 ``table_not_found``). Schema-qualified names and table functions but
    the generators (``range``, ``generate_series``, ``unnest``) are refused."""
    statement = parse(sql)
    for node in statement.walk():
        check_node(node)
    if not isinstance(statement, exp.Query):
        raise refused(f"only queries are allowed, not {statement.key.upper()}", "sql_not_read_only")
    ctes = _cte_names(statement)
    admitted = Admitted(query=statement)
    for table in list(statement.find_all(exp.Table)):
        source = table.this
        if not isinstance(source, exp.Identifier):
            if isinstance(source, _TABLE_GENERATORS):
                continue
            name = _function_name(source) if isinstance(source, exp.Func) else source.key
            raise refused(
                f"table function {name!r} is not allowed: read datasets by name",
                "sql_function_not_allowed",
                function=name,
            )
        written = table.name
        if table.args.get("db") or table.args.get("catalog"):
            raise ValidationFailed(
                f"no table {table.sql(dialect=DIALECT)!r}: name datasets without a schema",
                code="table_not_found",
                details={"table": table.sql(dialect=DIALECT)},
            )
        if written.casefold() in ctes:
            continue
        relation = resolve(written)
        if relation is None:
            raise ValidationFailed(
                f"no table {written!r}", code="table_not_found", details={"table": written}
            )
        admitted.relations[written] = relation
        alias = table.alias
        table.set("this", exp.to_identifier(relation, quoted=True))
        if not alias:
            # Columns qualified by the written name (``orders.id``) still resolve.
            table.set("alias", exp.TableAlias(this=exp.to_identifier(written, quoted=True)))
    return admitted


_ADMITTED: Memo[str] = Memo()


def admitted_sql(sql: str, names: Mapping[str, str]) -> str:
    """The SQL :func:`admit` gives for ``sql`` with its tables named by ``names`` (exactly,
    else ignoring case): worked out once for the same text and names."""
    key = (sql, tuple(sorted(names.items())))

    def work() -> str:
        folded = {name.casefold(): relation for name, relation in names.items()}
        return admit(sql, lambda w: names.get(w) or folded.get(w.casefold())).sql

    return _ADMITTED.get(key, work)
