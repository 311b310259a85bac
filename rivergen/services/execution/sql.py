"""SQL over the prompt catalog, compiled to an Internal Compute query (never run as text).

:func:`compile_sql` parses one statement with sqlglot and turns it into a
:class:`compute.internal.QuerySpec` over dataset ids: the SQL is read, checked and translated,
and only the typed query runs (:func:`run_compiled`), so nothing in the text can reach a
database, a file or the system. Accepted: one ``SELECT`` over catalog tables with inner/left
joins on equal keys, ``WHERE`` (comparisons, ``BETWEEN``, ``IN``, ``IS [NOT] NULL``, ``LIKE``
prefix/substring, ``AND``, ``OR`` between simple conditions), ``COUNT``/``COUNT(DISTINCT)``/
``SUM``/``AVG``/``MIN``/``MAX``, ``YEAR``/``MONTH``/``DAY``/``QUARTER``/``EXTRACT``/``LOWER``/
``UPPER``, ``GROUP BY``, ``HAVING``, ``DISTINCT``, ``ORDER BY``, ``LIMIT``.

Refused, with a machine-readable code: text that does not parse (``sql_parse_error``), more than
one statement (``sql_multiple_statements``), anything but a read (``sql_not_read_only``),
comments (``sql_comment_not_allowed``: a comment can hide a statement from a reader), a
function outside the allow-list (``sql_function_not_allowed``: ``pg_read_file``,
``read_csv``, ``load_extension``, ...), a construct the engine does not run (``sql_unsupported``:
subqueries, CTEs, unions, window functions, arithmetic), and names the catalog does not have
(``table_not_found``, ``column_not_found``, ``column_ambiguous``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import pyarrow as pa
import sqlglot
from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from compute.internal import (
    Aggregate,
    AggregateFunction,
    Derived,
    DeriveFunction,
    Filter,
    FilterOp,
    Join,
    OrderBy,
    OutputColumn,
    QuerySpec,
    check_spec,
    run_spec,
)
from rivergen.errors import BadRequest, ValidationFailed
from rivergen.services.planning.catalog import CatalogTable, PromptCatalog

MAX_SQL_CHARS = 20_000
DIALECT = "postgres"

# Statements and clauses that write, lock or leave plain querying.
_WRITES: tuple[type[exp.Expr], ...] = (
    exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Into, exp.Lock, exp.Copy, exp.Create,
    exp.Drop, exp.Alter, exp.TruncateTable, exp.Command, exp.Set, exp.Transaction, exp.Commit,
    exp.Rollback, exp.Use, exp.Pragma,
)  # fmt: skip
_UNSUPPORTED: tuple[type[exp.Expr], ...] = (
    exp.Subquery, exp.With, exp.Union, exp.Intersect, exp.Except, exp.Window, exp.Lateral,
    exp.Placeholder, exp.Parameter, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Case,
    exp.Offset,
)  # fmt: skip
_AGGREGATES: dict[type[exp.Expr], AggregateFunction] = {
    exp.Sum: "sum", exp.Avg: "mean", exp.Min: "min", exp.Max: "max", exp.Count: "count",
}  # fmt: skip
_DERIVES: dict[type[exp.Expr], DeriveFunction] = {
    exp.Year: "year", exp.Month: "month", exp.Day: "day", exp.Quarter: "quarter",
    exp.Lower: "lower", exp.Upper: "upper",
}  # fmt: skip
_EXTRACT_PARTS: dict[str, DeriveFunction] = {
    "YEAR": "year", "MONTH": "month", "DAY": "day", "QUARTER": "quarter",
}  # fmt: skip
_ALLOWED_FUNCTIONS: tuple[type[exp.Expr], ...] = (
    *_AGGREGATES, *_DERIVES, exp.Extract, exp.Cast, exp.Connector,
)  # fmt: skip
_COMPARISONS: dict[type[exp.Expr], tuple[FilterOp, FilterOp]] = {
    # (op, op when the literal is on the left)
    exp.EQ: ("==", "=="), exp.NEQ: ("!=", "!="), exp.GT: (">", "<"), exp.GTE: (">=", "<="),
    exp.LT: ("<", ">"), exp.LTE: ("<=", ">="),
}  # fmt: skip


class ColumnSource(BaseModel):
    table: str
    column: str


class CompiledQuery(BaseModel):
    """One checked read: the typed query over dataset ids, and where each answer column
    comes from."""

    sql: str = Field(description="The statement as parsed, normalized.")
    spec: QuerySpec
    tables: list[str] = Field(description="Catalog tables read, the FROM table first.")
    datasets: dict[str, UUID] = Field(description="Each table read -> its dataset id.")
    schema_types: dict[str, str] = Field(description="Answer column -> Arrow type.")
    lineage: dict[str, list[ColumnSource]] = Field(
        description="Answer column -> the catalog columns it is computed from."
    )
    reads: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Every catalog column the query reads, by table: shown, filtered on, "
        "joined on, grouped, aggregated or sorted by (for access rules on columns).",
    )


def _bad(message: str, code: str, **details: Any) -> BadRequest:
    return BadRequest(message, code=code, details=details)


def _parse(sql: str) -> exp.Select:
    if len(sql) > MAX_SQL_CHARS:
        raise _bad(f"the SQL is longer than {MAX_SQL_CHARS} characters", "sql_too_long")
    try:
        tokens = sqlglot.Tokenizer(dialect=DIALECT).tokenize(sql)
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except (ParseError, TokenError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _bad(f"the SQL does not parse: {first}", "sql_parse_error") from None
    if any(token.comments for token in tokens):
        raise _bad("comments are not allowed in SQL", "sql_comment_not_allowed")
    if len(statements) != 1:
        raise _bad("give exactly one statement", "sql_multiple_statements")
    statement = statements[0]
    for node in statement.walk():
        _check_node(node)
    if not isinstance(statement, exp.Select):
        raise _bad(f"only SELECT is supported, not {statement.key.upper()}", "sql_unsupported")
    return statement


def _check_node(node: exp.Expr) -> None:
    if isinstance(node, _WRITES):
        raise _bad(f"only reading is allowed: the SQL has {node.key.upper()}", "sql_not_read_only")
    if isinstance(node, exp.Func) and not isinstance(node, _ALLOWED_FUNCTIONS):
        name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
        raise _bad(f"function {name!r} is not allowed", "sql_function_not_allowed", function=name)
    if isinstance(node, _UNSUPPORTED):
        raise _bad(f"{node.key.upper()} is not supported", "sql_unsupported", node=node.key)
    if isinstance(node, exp.Cast) and node.to.this not in (
        exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP,
    ):  # fmt: skip
        raise _bad("only CAST of a literal to DATE or TIMESTAMP", "sql_unsupported")


def _literal(node: exp.Expr) -> Any:
    """A Python value of a literal (strings, numbers, booleans, DATE '...')."""
    if isinstance(node, exp.Paren):
        return _literal(node.this)
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        return node.this.this
    if isinstance(node, exp.Neg):
        value = _literal(node.this)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = str(node.this)
        return float(text) if any(c in text for c in ".eE") else int(text)
    raise _bad(f"expected a literal value, got {node.sql(dialect=DIALECT)!r}", "sql_unsupported")


def _is_literal(node: exp.Expr) -> bool:
    try:
        _literal(node)
    except BadRequest:
        return False
    return True


def _conjuncts(node: exp.Expr | None) -> list[exp.Expr]:
    if node is None:
        return []
    node = node.unnest()
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


def _disjuncts(node: exp.Expr) -> list[exp.Expr]:
    node = node.unnest()
    if isinstance(node, exp.Or):
        return _disjuncts(node.this) + _disjuncts(node.expression)
    return [node]


def _like(column: str, pattern: Any) -> Filter:
    if not isinstance(pattern, str) or "_" in pattern:
        raise _bad("LIKE takes a text pattern without `_`", "sql_unsupported")
    inner = pattern.strip("%")
    if "%" in inner:
        raise _bad("LIKE supports 'x%', '%x%' and 'x' only", "sql_unsupported")
    if pattern.startswith("%") and pattern.endswith("%") and len(pattern) > 1:
        return Filter(column=column, op="contains", value=inner)
    if pattern.endswith("%") and not pattern.startswith("%"):
        return Filter(column=column, op="starts_with", value=inner)
    if "%" not in pattern:
        return Filter(column=column, op="==", value=pattern)
    raise _bad("LIKE supports 'x%', '%x%' and 'x' only", "sql_unsupported")


class _Scope:
    """The columns visible after the FROM and the joins: (alias, column) -> name in the joined
    table, and each name's source."""

    def __init__(self) -> None:
        self.aliases: dict[str, CatalogTable] = {}
        self.columns: dict[tuple[str, str], str] = {}
        self.types: dict[str, str] = {}
        self.sources: dict[str, ColumnSource] = {}

    def add_table(self, alias: str, table: CatalogTable, keys: Mapping[str, str]) -> str:
        """Add a table's columns (``keys``: its join columns -> the name they coalesce into);
        returns the suffix its clashing columns get."""
        if alias in self.aliases:
            raise _bad(f"table alias {alias!r} is used twice", "sql_unsupported")
        self.aliases[alias] = table
        suffix = f"_{alias}"
        for column in table.columns:
            if column.name in keys:
                self.columns[(alias, column.name)] = keys[column.name]
                continue
            name = f"{column.name}{suffix}" if column.name in self.types else column.name
            if name in self.types:
                raise _bad(f"column {name!r} would appear twice", "sql_unsupported")
            self.columns[(alias, column.name)] = name
            self.types[name] = column.type
            self.sources[name] = ColumnSource(table=table.name, column=column.name)
        return suffix

    def resolve(self, node: exp.Column) -> str:
        alias, name = node.table.casefold(), node.name
        if alias:
            if alias not in self.aliases:
                raise ValidationFailed(
                    f"no table {node.table!r} in the query", code="table_not_found",
                    details={"table": node.table},
                )  # fmt: skip
            found = [v for (a, c), v in self.columns.items() if a == alias and c == name]
        else:
            found = sorted({v for (_, c), v in self.columns.items() if c == name})
        if not found:
            found = self._folded(alias, name)
        if len(found) > 1:
            raise _bad(f"column {name!r} is in several tables: qualify it", "column_ambiguous")
        if not found:
            raise ValidationFailed(
                f"no column {name!r}", code="column_not_found", details={"column": name}
            )
        return found[0]

    def _folded(self, alias: str, name: str) -> list[str]:
        wanted = name.casefold()
        return sorted(
            {v for (a, c), v in self.columns.items()
             if c.casefold() == wanted and (not alias or a == alias)}
        )  # fmt: skip


class _Compiler:
    def __init__(self, catalog: PromptCatalog) -> None:
        self.catalog = catalog
        self.scope = _Scope()
        self.tables: list[CatalogTable] = []
        self.joins: list[Join] = []
        self.derived: dict[tuple[str, str], str] = {}
        self.derive: list[Derived] = []
        self.aggregates: list[Aggregate] = []
        self.aggregate_sources: dict[str, list[ColumnSource]] = {}

    # FROM and JOIN ---------------------------------------------------------------------------

    def _table(self, node: exp.Expr) -> tuple[str, CatalogTable]:
        if not isinstance(node, exp.Table) or node.args.get("db") or node.args.get("catalog"):
            raise _bad("FROM and JOIN take catalog table names", "sql_unsupported")
        table = self.catalog.table(node.name)
        if table is None:
            raise ValidationFailed(
                f"no table {node.name!r} in the catalog", code="table_not_found",
                details={"table": node.name,
                         "tables": [t.name for t in self.catalog.tables]},
            )  # fmt: skip
        self.tables.append(table)
        return (node.alias_or_name or node.name).casefold(), table

    def from_(self, select: exp.Select) -> None:
        clause = select.args.get("from_") or select.args.get("from")
        if clause is None:
            raise _bad("a query reads a table: add FROM", "sql_unsupported")
        alias, table = self._table(clause.this)
        self.scope.add_table(alias, table, {})
        for join in select.args.get("joins") or []:
            self._join(join)

    def _join(self, node: exp.Join) -> None:
        side, kind = (node.side or "").upper(), (node.kind or "").upper()
        if side not in ("", "LEFT") or kind not in ("", "INNER", "OUTER") or node.args.get("using"):
            raise _bad("only INNER and LEFT joins ON equal keys", "sql_unsupported")
        alias, table = self._table(node.this)
        left_on, right_on = [], []
        for condition in _conjuncts(node.args.get("on")):
            left, right = self._join_key(condition, alias, table)
            left_on.append(left)
            right_on.append(right)
        if not left_on:
            raise _bad("a join needs ON with equal keys", "sql_unsupported")
        suffix = self.scope.add_table(alias, table, dict(zip(right_on, left_on, strict=True)))
        self.joins.append(
            Join(dataset=table.dataset_id, version=table.version, left_on=left_on,
                 right_on=right_on, how="left" if side == "LEFT" else "inner", suffix=suffix)
        )  # fmt: skip

    def _join_key(self, node: exp.Expr, alias: str, table: CatalogTable) -> tuple[str, str]:
        if not (
            isinstance(node, exp.EQ)
            and isinstance(node.this, exp.Column)
            and isinstance(node.expression, exp.Column)
        ):
            raise _bad("join conditions are `a.x = b.y`", "sql_unsupported")
        a, b = node.this, node.expression
        if b.table.casefold() != alias:
            a, b = b, a
        if b.table.casefold() != alias or a.table.casefold() == alias:
            raise _bad("qualify both join columns with their tables", "sql_unsupported")
        if not any(c.name == b.name for c in table.columns):
            raise ValidationFailed(
                f"no column {b.name!r} in {table.name!r}", code="column_not_found",
                details={"table": table.name, "column": b.name},
            )  # fmt: skip
        return self.scope.resolve(a), b.name

    # Values ----------------------------------------------------------------------------------

    def value(self, node: exp.Expr) -> str:
        """The name of the (joined or derived) column an expression reads."""
        node = node.unnest()
        if isinstance(node, exp.Column):
            return self.scope.resolve(node)
        function: DeriveFunction | None = _DERIVES.get(type(node))
        argument = node.this
        if isinstance(node, exp.Extract):
            function = _EXTRACT_PARTS.get(node.this.name.upper())
            argument = node.expression
        if function is None or not isinstance(argument, exp.Expression):
            raise _bad(f"expected a column, got {node.sql(dialect=DIALECT)!r}", "sql_unsupported")
        return self._derived(function, self.value(argument))

    def _derived(self, function: DeriveFunction, column: str) -> str:
        key = (function, column)
        if key not in self.derived:
            name = f"{function}_{column}"
            while name in self.scope.types:
                name += "_"
            self.derived[key] = name
            self.derive.append(Derived(name=name, function=function, column=column))
            kind = "string" if function in ("lower", "upper") else "int64"
            self.scope.types[name] = kind
            self.scope.sources[name] = self.scope.sources[column]
        return self.derived[key]

    def aggregate(self, node: exp.Expr) -> str | None:
        """The output name of an aggregate expression (added once), or None if it is none."""
        node = node.unnest()
        function = _AGGREGATES.get(type(node))
        if function is None:
            return None
        argument = node.this
        column: str | None = None
        if isinstance(argument, exp.Distinct):
            if function != "count" or len(argument.expressions) != 1:
                raise _bad("DISTINCT inside COUNT of one column only", "sql_unsupported")
            function, column = "count_distinct", self.value(argument.expressions[0])
        elif not (function == "count" and isinstance(argument, exp.Star)):
            column = self.value(argument)
        for existing in self.aggregates:
            if existing.function == function and existing.column == column:
                return existing.output
        name = function if column is None else f"{function}_{column}"
        taken = set(self.scope.types) | {a.output for a in self.aggregates}
        while name in taken:
            name += "_"
        self.aggregates.append(Aggregate(function=function, column=column, alias=name))
        self.aggregate_sources[name] = [] if column is None else [self.scope.sources[column]]
        return name

    # WHERE and HAVING ------------------------------------------------------------------------

    def condition(self, node: exp.Expr, having: bool = False) -> list[Filter]:
        node = node.unnest()
        negated = isinstance(node, exp.Not)
        inner = node.this.unnest() if negated else node
        if negated and not isinstance(inner, exp.In | exp.Is):
            raise _bad("NOT applies to IN and IS NULL only", "sql_unsupported")
        if isinstance(inner, exp.Between):
            column = self._operand(inner.this, having)
            return [
                Filter(column=column, op=">=", value=_literal(inner.args["low"])),
                Filter(column=column, op="<=", value=_literal(inner.args["high"])),
            ]
        if isinstance(inner, exp.In):
            values = [_literal(v) for v in inner.expressions]
            if not values:
                raise _bad("IN takes a list of values", "sql_unsupported")
            op: FilterOp = "not_in" if negated else "in"
            return [Filter(column=self._operand(inner.this, having), op=op, value=values)]
        if isinstance(inner, exp.Is):
            if not isinstance(inner.expression, exp.Null):
                raise _bad("IS takes NULL only", "sql_unsupported")
            op = "not_null" if negated else "is_null"
            return [Filter(column=self._operand(inner.this, having), op=op)]
        if isinstance(inner, exp.Like):
            return [_like(self._operand(inner.this, having), _literal(inner.expression))]
        return [self._comparison(inner, having)]

    def _comparison(self, node: exp.Expr, having: bool) -> Filter:
        ops = _COMPARISONS.get(type(node))
        if ops is None or not isinstance(node, exp.Binary):
            raise _bad(
                f"condition {node.sql(dialect=DIALECT)!r} is not supported", "sql_unsupported"
            )
        left, right, op = node.this, node.expression, ops[0]
        if _is_literal(left) and not _is_literal(right):
            left, right, op = right, left, ops[1]
        value = _literal(right)
        if value is None:
            raise _bad("compare with IS NULL, not = NULL", "sql_unsupported")
        return Filter(column=self._operand(left, having), op=op, value=value)

    def _operand(self, node: exp.Expr, having: bool) -> str:
        if having:
            name = self.aggregate(node)
            if name is None:
                raise _bad("HAVING compares aggregates", "sql_unsupported")
            return name
        if self.aggregate(node) is not None:
            raise _bad("aggregates belong in HAVING, not WHERE", "sql_unsupported")
        return self.value(node)

    def where(self, select: exp.Select) -> tuple[list[Filter], list[list[Filter]]]:
        filters: list[Filter] = []
        any_of: list[list[Filter]] = []
        where = select.args.get("where")
        for conjunct in _conjuncts(where.this if where is not None else None):
            alternatives = _disjuncts(conjunct)
            if len(alternatives) == 1:
                filters.extend(self.condition(conjunct))
                continue
            group: list[Filter] = []
            for alternative in alternatives:
                found = self.condition(alternative)
                if len(found) != 1:
                    raise _bad("OR joins simple conditions (not BETWEEN)", "sql_unsupported")
                group.extend(found)
            any_of.append(group)
        return filters, any_of


def compile_sql(sql: str, catalog: PromptCatalog) -> CompiledQuery:
    """Check one read-only SELECT against the catalog and compile it to a
    :class:`QuerySpec` over the catalog's dataset ids. Raises :class:`BadRequest` (the SQL is
    refused) or :class:`ValidationFailed` (it names what the catalog does not have, or a value
    that does not fit a column's type)."""
    select = _parse(sql)
    compiler = _Compiler(catalog)
    try:
        compiler.from_(select)
        return _Assembler(compiler, select).compiled(sql)
    except PydanticValidationError as exc:
        # A shape the typed query does not take (what the checks above did not foresee).
        first = exc.errors()[0]["msg"] if exc.errors() else str(exc)
        raise _bad(f"the query cannot be compiled: {first}", "sql_unsupported") from None


class _Assembler:
    """The SELECT list, GROUP BY, HAVING, ORDER BY and LIMIT over a compiler's scope."""

    def __init__(self, compiler: _Compiler, select: exp.Select) -> None:
        self.c = compiler
        self.select = select
        self.outputs: list[tuple[str, str]] = []  # (computed column, answer name)
        self.aliases: dict[str, str] = {}

    def compiled(self, sql: str) -> CompiledQuery:
        filters, any_of = self.c.where(self.select)
        grouped = self._group_by()
        self._projection()
        aggregated = bool(self.c.aggregates) or grouped is not None
        group_by = grouped or []
        if aggregated:
            self._check_grouped(group_by)
        having = self._having(aggregated)
        # Grouped rows are distinct already: DISTINCT over them changes nothing.
        distinct = bool(self.select.args.get("distinct")) and not aggregated
        order_by = self._order_by(distinct, aggregated, group_by)
        spec = QuerySpec(
            dataset=self.c.tables[0].dataset_id, version=self.c.tables[0].version,
            joins=self.c.joins, derive=self.c.derive, filters=filters, any_of=any_of,
            columns=_unique([c for c, _ in self.outputs]) if distinct else None,
            group_by=group_by, aggregates=self.c.aggregates, having=having, distinct=distinct,
            order_by=order_by, limit=self._limit(),
            output=[OutputColumn(column=c, name=n) for c, n in self.outputs],
        )  # fmt: skip
        schemas = {t.dataset_id: {c.name: c.type for c in t.columns} for t in self.c.tables}
        types = check_spec(spec, schemas)
        return CompiledQuery(
            sql=self.select.sql(dialect=DIALECT), spec=spec,
            tables=_unique([t.name for t in self.c.tables]),
            datasets={t.name: t.dataset_id for t in self.c.tables}, schema_types=types,
            lineage={name: self._lineage(column) for column, name in self.outputs},
            reads=self._reads(spec),
        )  # fmt: skip

    def _reads(self, spec: QuerySpec) -> dict[str, list[str]]:
        names: list[str | None] = [c for c, _ in self.outputs]
        for join in spec.joins:
            names += join.left_on
            names += [f"{join.suffix}\0{r}" for r in join.right_on]  # read below by table
        names += [d.column for d in spec.derive]
        names += [f.column for f in spec.filters] + [f.column for g in spec.any_of for f in g]
        names += [a.column for a in spec.aggregates]
        names += spec.group_by + (spec.columns or [])
        names += [o.column for o in spec.order_by]
        found: dict[str, list[str]] = {}
        for name in names:
            for source in self._sources(name):
                columns = found.setdefault(source.table, [])
                if source.column not in columns:
                    columns.append(source.column)
        return found

    def _sources(self, name: str | None) -> list[ColumnSource]:
        scope = self.c.scope
        if name is None:
            return []
        if "\0" in name:  # a join's right key: a column of the joined table
            suffix, column = name.split("\0")
            alias = suffix.removeprefix("_")
            return [ColumnSource(table=scope.aliases[alias].name, column=column)]
        if name in self.c.aggregate_sources:
            return self.c.aggregate_sources[name]
        return [scope.sources[name]] if name in scope.sources else []

    def _lineage(self, column: str) -> list[ColumnSource]:
        if column in self.c.aggregate_sources:
            return self.c.aggregate_sources[column]
        return [self.c.scope.sources[column]]

    def _projection(self) -> None:
        names: set[str] = set()
        for item in self.select.expressions:
            if isinstance(item, exp.Star):
                for (_, _), column in self.c.scope.columns.items():
                    if column not in {c for c, _ in self.outputs}:
                        self._output(column, column, names)
                continue
            alias = item.alias if isinstance(item, exp.Alias) else ""
            node = item.this if isinstance(item, exp.Alias) else item
            column = self.c.aggregate(node) or self.c.value(node)
            name = alias or (node.name if isinstance(node, exp.Column) else column)
            self._output(column, name, names)
            if alias:
                self.aliases[alias.casefold()] = column

    def _output(self, column: str, name: str, names: set[str]) -> None:
        while name in names:
            name += "_"
        names.add(name)
        self.outputs.append((column, name))

    def _resolve(self, node: exp.Expr) -> str:
        """A GROUP BY / ORDER BY item: an ordinal, a SELECT alias, an aggregate or a value."""
        node = node.unnest()
        if isinstance(node, exp.Literal) and not node.is_string:
            position = int(str(node.this))
            if not 1 <= position <= len(self.outputs):
                raise _bad(f"no SELECT item {position}", "sql_unsupported")
            return self.outputs[position - 1][0]
        if (
            isinstance(node, exp.Column)
            and not node.table
            and node.name.casefold() in (self.aliases)
        ):
            return self.aliases[node.name.casefold()]
        return self.c.aggregate(node) or self.c.value(node)

    def _group_by(self) -> list[str] | None:
        group = self.select.args.get("group")
        if group is None:
            return None
        # Ordinals and aliases refer to the SELECT list: read it first for them.
        items = group.expressions
        if any(isinstance(i.unnest(), exp.Literal) for i in items) or any(
            isinstance(i, exp.Column) and not i.table for i in items
        ):
            saved = (list(self.outputs), dict(self.aliases))
            try:
                self._projection()
                return _unique([self._resolve(i) for i in items])
            finally:
                self.outputs, self.aliases = saved
        return _unique([self.c.value(i) for i in items])

    def _check_grouped(self, group_by: list[str]) -> None:
        aggregated = {a.output for a in self.c.aggregates}
        for column, name in self.outputs:
            if column not in aggregated and column not in group_by:
                raise _bad(
                    f"{name!r} is neither grouped nor aggregated", "sql_unsupported", column=name
                )

    def _having(self, aggregated: bool) -> list[Filter]:
        having = self.select.args.get("having")
        if having is None:
            return []
        if not aggregated:
            raise _bad("HAVING needs GROUP BY or an aggregate", "sql_unsupported")
        found: list[Filter] = []
        for conjunct in _conjuncts(having.this):
            found.extend(self.c.condition(conjunct, having=True))
        return found

    def _order_by(self, distinct: bool, aggregated: bool, group_by: list[str]) -> list[OrderBy]:
        order = self.select.args.get("order")
        if order is None:
            return []
        found = []
        for item in order.expressions:
            column = self._resolve(item.this)
            allowed = (
                {c for c, _ in self.outputs}
                if distinct
                else {a.output for a in self.c.aggregates} | set(group_by)
            )
            if (distinct or aggregated) and column not in allowed:
                raise _bad(
                    "ORDER BY of a grouped or DISTINCT query takes its columns",
                    "sql_unsupported",
                )
            found.append(OrderBy(column=column, descending=bool(item.args.get("desc"))))
        return found

    def _limit(self) -> int | None:
        limit = self.select.args.get("limit")
        if limit is None:
            return None
        value = _literal(limit.expression)
        if not isinstance(value, int) or value < 1:
            raise _bad("LIMIT takes a positive whole number", "sql_unsupported")
        return value


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def run_compiled(compiled: CompiledQuery, tables: Mapping[UUID, pa.Table]) -> pa.Table:
    """The answer: the compiled query over the input tables by dataset id (each table as the
    catalog described it, after any governance of its rows and columns)."""
    return run_spec(compiled.spec, tables)
