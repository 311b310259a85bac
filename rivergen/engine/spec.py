"""The typed query: filters, projections, group-by aggregates, order, limit and joins over
dataset versions, as the API takes it (``query`` jobs) and as policies name rows (row filters).

:func:`check_query` proves a :class:`QuerySpec` against the input schemas before anything runs
(a column that does not exist, a value of the wrong type, a sum over text are refused up front
with a code); :func:`spec_sql` compiles it to one SELECT (sqlglot) that the engine
(:mod:`rivergen.engine.duck`) runs like any other SQL.

Evaluation order: ``join`` then each of ``joins``, the derived columns (``derive``),
``filters`` (all hold) and ``any_of`` (in each group, one holds), then either aggregates (grouped by
``group_by``, then ``having``) or the projection ``columns`` (then ``distinct``), then
``order_by``, then ``limit``, and last ``output`` (the final columns, renamed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from rivergen.errors import ValidationFailed

FilterOp = Literal[
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not_in",
    "is_null",
    "not_null",
    "contains",
    "starts_with",
]
AggregateFunction = Literal["count", "sum", "mean", "min", "max", "count_distinct"]
DeriveFunction = Literal["year", "month", "day", "quarter", "lower", "upper"]
JoinHow = Literal["inner", "left", "right", "outer"]
TypeClass = Literal["numeric", "string", "temporal", "boolean", "other"]

_UNARY: frozenset[str] = frozenset({"is_null", "not_null"})
_TEXT_OPS: frozenset[str] = frozenset({"contains", "starts_with"})
_ORDERED_OPS: frozenset[str] = frozenset({"<", "<=", ">", ">="})
_NUMERIC_AGGREGATES: frozenset[str] = frozenset({"sum", "mean"})
RIGHT_SUFFIX = "_right"


class Filter(BaseModel):
    """One condition; all of a query's filters must hold (AND)."""

    column: str = Field(min_length=1)
    op: FilterOp
    value: Any = Field(
        None,
        description="Compared value (a list for `in`/`not_in`; none for `is_null`/`not_null`). "
        "Dates and timestamps as ISO 8601 strings.",
    )


class Aggregate(BaseModel):
    function: AggregateFunction
    column: str | None = Field(
        None, description="Column aggregated; none only for `count` (rows of each group)."
    )
    alias: str | None = Field(
        None, min_length=1, description="Output column; default `<function>_<column>`."
    )

    @model_validator(mode="after")
    def _column_given(self) -> Aggregate:
        if self.column is None and self.function != "count":
            raise ValueError(f"`{self.function}` needs a column")
        return self

    @property
    def output(self) -> str:
        if self.alias:
            return self.alias
        return self.function if self.column is None else f"{self.function}_{self.column}"


class OrderBy(BaseModel):
    column: str = Field(min_length=1)
    descending: bool = False


class Join(BaseModel):
    """Join another dataset's version on equal keys. Right columns whose names clash with left
    ones get the suffix ``_right``."""

    dataset: UUID
    version: int | None = Field(None, ge=1, description="Default: the current version.")
    left_on: list[str] = Field(min_length=1, max_length=8)
    right_on: list[str] = Field(min_length=1, max_length=8)
    how: JoinHow = "inner"
    suffix: str = Field(
        RIGHT_SUFFIX,
        min_length=1,
        max_length=64,
        description="Appended to right columns whose names clash with the left ones.",
    )

    @model_validator(mode="after")
    def _same_arity(self) -> Join:
        if len(self.left_on) != len(self.right_on):
            raise ValueError("left_on and right_on must name as many columns")
        return self


class Derived(BaseModel):
    """A column computed from another before the filters: a date's part, a string's case."""

    name: str = Field(min_length=1)
    function: DeriveFunction
    column: str = Field(min_length=1)


class OutputColumn(BaseModel):
    column: str = Field(min_length=1)
    name: str = Field(min_length=1)


class QuerySpec(BaseModel):
    """A query over one dataset version, optionally joined with others."""

    dataset: UUID
    version: int | None = Field(None, ge=1, description="Default: the current version.")
    join: Join | None = None
    joins: list[Join] = Field(
        default_factory=list, max_length=4, description="More joins, after `join`, in order."
    )
    derive: list[Derived] = Field(default_factory=list, max_length=16)
    filters: list[Filter] = Field(default_factory=list, max_length=50)
    any_of: list[list[Filter]] = Field(
        default_factory=list,
        max_length=20,
        description="Groups of alternatives: in each group at least one filter holds.",
    )
    columns: list[str] | None = Field(
        None, description="Columns kept when no aggregate is asked (default: all)."
    )
    group_by: list[str] = Field(default_factory=list, max_length=16)
    aggregates: list[Aggregate] = Field(default_factory=list, max_length=50)
    having: list[Filter] = Field(
        default_factory=list, max_length=20, description="Filters over the aggregated rows."
    )
    distinct: bool = Field(False, description="Drop repeated rows of the projection.")
    order_by: list[OrderBy] = Field(default_factory=list, max_length=16)
    limit: int | None = Field(None, ge=1, le=10_000_000)
    output: list[OutputColumn] | None = Field(
        None, description="The answer's columns, in order, renamed (default: as computed)."
    )

    @property
    def all_joins(self) -> list[Join]:
        return ([self.join] if self.join is not None else []) + list(self.joins)

    @model_validator(mode="after")
    def _shape(self) -> QuerySpec:
        if self.group_by and not self.aggregates:
            raise ValueError("group_by needs at least one aggregate")
        outputs = [a.output for a in self.aggregates] + self.group_by
        if len(set(outputs)) != len(outputs):
            raise ValueError("aggregate outputs and group_by columns must have distinct names")
        if self.having and not self.aggregates:
            raise ValueError("having needs at least one aggregate")
        if self.distinct and self.aggregates:
            raise ValueError("distinct applies to a projection, not to aggregates")
        return self


# Checking ------------------------------------------------------------------------------------


def type_class(arrow_type: str) -> TypeClass:
    """What kind of values an Arrow type string (as the catalog records it) holds."""
    t = arrow_type.lower()
    if t.startswith(("int", "uint", "float", "double", "halffloat", "decimal")):
        return "numeric"
    if t in ("string", "large_string", "utf8", "large_utf8"):
        return "string"
    if t.startswith(("timestamp", "date", "time")):
        return "temporal"
    if t in ("bool", "boolean"):
        return "boolean"
    return "other"


def _invalid(message: str, code: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(message, code=code, details=details)


def _column(schema: Mapping[str, str], name: str, where: str) -> str:
    if name not in schema:
        raise _invalid(
            f"{where}: no column {name!r} (columns: {', '.join(schema)})",
            "column_not_found",
            column=name,
            where=where,
        )
    return schema[name]


def _value_fits(kind: TypeClass, value: Any) -> bool:
    if kind == "numeric":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "temporal":
        return isinstance(value, str) and _parse_temporal(value) is not None
    return True


def _parse_temporal(value: str) -> datetime | date | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _check_filter(schema: Mapping[str, str], item: Filter) -> None:
    arrow_type = _column(schema, item.column, "filters")
    kind = type_class(arrow_type)
    if item.op in _UNARY:
        return
    bad = _invalid(
        f"filter on {item.column!r} ({arrow_type}): {item.op} {item.value!r} does not fit its type",
        "column_type_mismatch",
        column=item.column,
        type=arrow_type,
        op=item.op,
    )
    if item.op in _TEXT_OPS:
        if kind != "string" or not isinstance(item.value, str):
            raise bad
        return
    if item.op in ("in", "not_in"):
        if not isinstance(item.value, list) or not all(_value_fits(kind, v) for v in item.value):
            raise bad
        return
    if item.value is None or not _value_fits(kind, item.value):
        raise bad
    if item.op in _ORDERED_OPS and kind in ("boolean", "other"):
        raise bad


def joined_schema(left: Mapping[str, str], right: Mapping[str, str], join: Join) -> dict[str, str]:
    """The columns a join gives: the left ones, then the right ones but its keys (a clash gets
    the suffix)."""
    for name in join.left_on:
        _column(left, name, "join.left_on")
    for name in join.right_on:
        _column(right, name, "join.right_on")
    for lname, rname in zip(join.left_on, join.right_on, strict=True):
        lkind, rkind = type_class(left[lname]), type_class(right[rname])
        if lkind != rkind or lkind == "other":
            raise _invalid(
                f"join keys {lname!r} ({left[lname]}) and {rname!r} ({right[rname]}) are not "
                "comparable",
                "column_type_mismatch",
                left=lname,
                right=rname,
            )
    out = dict(left)
    for name, arrow_type in right.items():
        if name in join.right_on:
            continue
        renamed = f"{name}{join.suffix}" if name in left else name
        if renamed in out:
            raise _invalid(
                f"join: column {renamed!r} would appear twice; choose another suffix",
                "column_name_clash",
                column=renamed,
            )
        out[renamed] = arrow_type
    return out


_DERIVED_TYPES: dict[str, tuple[TypeClass, str]] = {
    "year": ("temporal", "int64"),
    "month": ("temporal", "int64"),
    "day": ("temporal", "int64"),
    "quarter": ("temporal", "int64"),
    "lower": ("string", "string"),
    "upper": ("string", "string"),
}


def _check_derived(columns: dict[str, str], derived: Derived) -> None:
    arrow_type = _column(columns, derived.column, "derive")
    needs, gives = _DERIVED_TYPES[derived.function]
    if type_class(arrow_type) != needs:
        raise _invalid(
            f"{derived.function} needs a {needs} column; {derived.column!r} is {arrow_type}",
            "column_type_mismatch",
            column=derived.column,
            type=arrow_type,
        )
    if derived.name in columns:
        raise _invalid(
            f"derive: column {derived.name!r} exists already",
            "column_name_clash",
            column=derived.name,
        )
    columns[derived.name] = gives


def check_query(
    spec: QuerySpec,
    schema: Mapping[str, str],
    right: Mapping[str, str] | None = None,
    *,
    joined: Sequence[Mapping[str, str]] = (),
) -> dict[str, str]:
    """Prove ``spec`` against the input schemas (column name -> Arrow type string; ``right``
    for ``join``, ``joined`` for each of ``joins``); returns the output schema. Raises
    :class:`ValidationFailed` (422) with code ``column_not_found``, ``column_type_mismatch``,
    ``column_name_clash`` or ``aggregate_not_numeric``."""
    columns = dict(schema)
    rights = ([right] if spec.join is not None else []) + list(joined)
    if len(rights) != len(spec.all_joins) or any(r is None for r in rights):
        raise _invalid("every join needs its right schema", "join_input_missing")
    for join, join_schema in zip(spec.all_joins, rights, strict=True):
        assert join_schema is not None
        columns = joined_schema(columns, join_schema, join)
    for derived in spec.derive:
        _check_derived(columns, derived)
    for item in [*spec.filters, *(f for group in spec.any_of for f in group)]:
        _check_filter(columns, item)
    output = _output_schema(spec, columns)
    for item in spec.having:
        _check_filter(output, item)
    for order in spec.order_by:
        _column(output, order.column, "order_by")
    if spec.output is not None:
        output = {o.name: _column(output, o.column, "output") for o in spec.output}
    return output


def _output_schema(spec: QuerySpec, columns: dict[str, str]) -> dict[str, str]:
    if spec.aggregates:
        output = {name: _column(columns, name, "group_by") for name in spec.group_by}
        for agg in spec.aggregates:
            output[agg.output] = _aggregate_type(columns, agg)
        return output
    if spec.columns is not None:
        return {name: _column(columns, name, "columns") for name in spec.columns}
    return columns


def datasets(spec: QuerySpec) -> list[tuple[UUID, int | None]]:
    """The dataset versions ``spec`` reads: its own, then each join's."""
    return [(spec.dataset, spec.version)] + [(j.dataset, j.version) for j in spec.all_joins]


def check_spec(spec: QuerySpec, schemas: Mapping[UUID, Mapping[str, str]]) -> dict[str, str]:
    """:func:`check_query` with each input's schema looked up by dataset id."""
    rights = [schemas[j.dataset] for j in spec.all_joins]
    first = rights[0] if spec.join is not None else None
    return check_query(
        spec, schemas[spec.dataset], first, joined=rights[1:] if spec.join else rights
    )


def _aggregate_type(columns: Mapping[str, str], agg: Aggregate) -> str:
    if agg.column is None:
        return "int64"
    arrow_type = _column(columns, agg.column, "aggregates")
    kind = type_class(arrow_type)
    if agg.function in _NUMERIC_AGGREGATES and kind != "numeric":
        raise _invalid(
            f"{agg.function} needs a numeric column; {agg.column!r} is {arrow_type}",
            "aggregate_not_numeric",
            column=agg.column,
            type=arrow_type,
            function=agg.function,
        )
    if agg.function in ("min", "max") and kind == "other":
        raise _invalid(
            f"{agg.function} needs an ordered column; {agg.column!r} is {arrow_type}",
            "column_type_mismatch",
            column=agg.column,
            type=arrow_type,
            function=agg.function,
        )
    if agg.function in ("count", "count_distinct"):
        return "int64"
    return "double" if agg.function == "mean" else arrow_type


# Compiling to SQL ----------------------------------------------------------------------------

_SQL_DERIVE: dict[str, str] = {
    "year": "year",
    "month": "month",
    "day": "day",
    "quarter": "quarter",
    "lower": "lower",
    "upper": "upper",
}
_SQL_COMPARE: dict[str, str] = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_SQL_JOIN: dict[str, str] = {
    "inner": "INNER JOIN",
    "left": "LEFT JOIN",
    "right": "RIGHT JOIN",
    "outer": "FULL JOIN",
}


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    """A JSON value as a SQL literal (strings quoted, ``None`` as NULL)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def filter_sql(item: Filter) -> str:
    """One filter as a SQL condition (NULLs never match, as in SQL)."""
    column = ident(item.column)
    if item.op == "is_null":
        return f"{column} IS NULL"
    if item.op == "not_null":
        return f"{column} IS NOT NULL"
    if item.op == "contains":
        return f"contains({column}, {literal(item.value)})"
    if item.op == "starts_with":
        return f"starts_with({column}, {literal(item.value)})"
    if item.op in ("in", "not_in"):
        values = ", ".join(literal(v) for v in item.value) or "NULL"
        return f"{column} {'IN' if item.op == 'in' else 'NOT IN'} ({values})"
    return f"{column} {_SQL_COMPARE[item.op]} {literal(item.value)}"


def conditions_sql(filters: Sequence[Filter], any_of: Sequence[Sequence[Filter]] = ()) -> str:
    """All ``filters`` and, of each group of ``any_of``, one (``TRUE`` when there are none)."""
    parts = [f"({filter_sql(f)})" for f in filters]
    for group in any_of:
        if group:
            parts.append("(" + " OR ".join(f"({filter_sql(f)})" for f in group) + ")")
    return " AND ".join(parts) or "TRUE"


def _aggregate_sql(agg: Aggregate) -> str:
    if agg.column is None:
        call = "count(*)"
    elif agg.function == "count_distinct":
        call = f"count(DISTINCT {ident(agg.column)})"
    else:
        function = "avg" if agg.function == "mean" else agg.function
        call = f"{function}({ident(agg.column)})"
    return f"{call} AS {ident(agg.output)}"


def spec_sql(
    spec: QuerySpec, relations: Mapping[UUID, str], schemas: Mapping[UUID, Mapping[str, str]]
) -> str:
    """``spec`` as one SELECT over ``relations`` (dataset id -> relation name), with the
    meaning :func:`check_query` gives it (check it first): a join's right columns that clash
    get its suffix, its keys keep the left names (coalesced in right and outer joins)."""
    sql = f"SELECT * FROM {ident(relations[spec.dataset])}"
    columns = dict(schemas[spec.dataset])
    for join in spec.all_joins:
        right = schemas[join.dataset]
        keys = dict(zip(join.left_on, join.right_on, strict=True))
        coalesce = join.how in ("right", "outer")
        picked = [
            f"coalesce(p.{ident(c)}, r.{ident(keys[c])}) AS {ident(c)}"
            if coalesce and c in keys
            else f"p.{ident(c)}"
            for c in columns
        ]
        joined = joined_schema(columns, right, join)
        for name in right:
            if name not in join.right_on:
                renamed = f"{name}{join.suffix}" if name in columns else name
                picked.append(f"r.{ident(name)} AS {ident(renamed)}")
        on = " AND ".join(f"p.{ident(lk)} = r.{ident(rk)}" for lk, rk in keys.items())
        sql = (
            f"SELECT {', '.join(picked)} FROM ({sql}) AS p "
            f"{_SQL_JOIN[join.how]} {ident(relations[join.dataset])} AS r ON {on}"
        )
        columns = joined
    for derived in spec.derive:
        call = f"{_SQL_DERIVE[derived.function]}({ident(derived.column)})"
        sql = f"SELECT *, {call} AS {ident(derived.name)} FROM ({sql}) AS d"
    where = conditions_sql(spec.filters, spec.any_of)
    if spec.aggregates:
        keys_sql = [ident(g) for g in spec.group_by]
        select = ", ".join([*keys_sql, *(_aggregate_sql(a) for a in spec.aggregates)])
        group = f" GROUP BY {', '.join(keys_sql)}" if keys_sql else ""
        sql = f"SELECT {select} FROM ({sql}) AS q WHERE {where}{group}"
    else:
        shown = ", ".join(ident(c) for c in spec.columns) if spec.columns is not None else "*"
        distinct = "DISTINCT " if spec.distinct else ""
        sql = f"SELECT {distinct}{shown} FROM ({sql}) AS q WHERE {where}"
    having = conditions_sql(spec.having)
    output = (
        ", ".join(f"{ident(o.column)} AS {ident(o.name)}" for o in spec.output)
        if spec.output is not None
        else "*"
    )
    sql = f"SELECT {output} FROM ({sql}) AS a WHERE {having}"
    if spec.order_by:
        order = ", ".join(
            f"{ident(o.column)} {'DESC' if o.descending else 'ASC'} NULLS LAST"
            for o in spec.order_by
        )
        sql += f" ORDER BY {order}"
    if spec.limit is not None:
        sql += f" LIMIT {int(spec.limit)}"
    return sql
