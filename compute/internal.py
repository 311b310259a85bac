"""Internal Compute: typed queries over Arrow tables (filters, projections, group-by aggregates,
order, limit, joins), run with Arrow's own engine (Acero: ``Table.filter``, ``Table.join``,
``Table.group_by``).

A query is a :class:`QuerySpec`, never free SQL: :func:`check_query` proves it against the
input schemas before anything runs (a column that does not exist, a value of the wrong type, a
sum over text are refused up front), and :func:`run_query` evaluates it. Both are plain
functions (no Ray), so the query job kind and the Prompt Studio call the same code.

Evaluation order: join, filters, then either aggregates (grouped by ``group_by``) or the
projection ``columns``, then ``order_by``, then ``limit``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field, model_validator

from rivergen.errors import ValidationFailed

FilterOp = Literal[
    "==", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_null", "not_null", "contains",
    "starts_with",
]  # fmt: skip
AggregateFunction = Literal["count", "sum", "mean", "min", "max", "count_distinct"]
JoinHow = Literal["inner", "left", "right", "outer"]
TypeClass = Literal["numeric", "string", "temporal", "boolean", "other"]

_UNARY: frozenset[str] = frozenset({"is_null", "not_null"})
_TEXT_OPS: frozenset[str] = frozenset({"contains", "starts_with"})
_ORDERED_OPS: frozenset[str] = frozenset({"<", "<=", ">", ">="})
_NUMERIC_AGGREGATES: frozenset[str] = frozenset({"sum", "mean"})
_JOIN_TYPES: dict[str, str] = {
    "inner": "inner", "left": "left outer", "right": "right outer", "outer": "full outer",
}  # fmt: skip
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

    @model_validator(mode="after")
    def _same_arity(self) -> Join:
        if len(self.left_on) != len(self.right_on):
            raise ValueError("left_on and right_on must name as many columns")
        return self


class QuerySpec(BaseModel):
    """A query over one dataset version (and optionally a join with another)."""

    dataset: UUID
    version: int | None = Field(None, ge=1, description="Default: the current version.")
    join: Join | None = None
    filters: list[Filter] = Field(default_factory=list, max_length=50)
    columns: list[str] | None = Field(
        None, description="Columns kept when no aggregate is asked (default: all)."
    )
    group_by: list[str] = Field(default_factory=list, max_length=16)
    aggregates: list[Aggregate] = Field(default_factory=list, max_length=50)
    order_by: list[OrderBy] = Field(default_factory=list, max_length=16)
    limit: int | None = Field(None, ge=1, le=10_000_000)

    @model_validator(mode="after")
    def _shape(self) -> QuerySpec:
        if self.group_by and not self.aggregates:
            raise ValueError("group_by needs at least one aggregate")
        outputs = [a.output for a in self.aggregates] + self.group_by
        if len(set(outputs)) != len(outputs):
            raise ValueError("aggregate outputs and group_by columns must have distinct names")
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
            f"{where}: no column {name!r} (columns: {', '.join(schema)})", "column_not_found",
            column=name, where=where,
        )  # fmt: skip
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
        "column_type_mismatch", column=item.column, type=arrow_type, op=item.op,
    )  # fmt: skip
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
                "comparable", "column_type_mismatch", left=lname, right=rname,
            )  # fmt: skip
    out = dict(left)
    for name, arrow_type in right.items():
        if name in join.right_on:
            continue
        out[f"{name}{RIGHT_SUFFIX}" if name in left else name] = arrow_type
    return out


def check_query(
    spec: QuerySpec, schema: Mapping[str, str], right: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Prove ``spec`` against the input schemas (column name -> Arrow type string); returns
    the output schema. Raises :class:`ValidationFailed` (422) with code ``column_not_found``,
    ``column_type_mismatch`` or ``aggregate_not_numeric``."""
    columns = dict(schema)
    if spec.join is not None:
        assert right is not None, "a join needs the right schema"
        columns = joined_schema(schema, right, spec.join)
    for item in spec.filters:
        _check_filter(columns, item)
    if spec.aggregates:
        output = {name: _column(columns, name, "group_by") for name in spec.group_by}
        for agg in spec.aggregates:
            output[agg.output] = _aggregate_type(columns, agg)
    elif spec.columns is not None:
        output = {name: _column(columns, name, "columns") for name in spec.columns}
    else:
        output = columns
    for order in spec.order_by:
        _column(output, order.column, "order_by")
    return output


def _aggregate_type(columns: Mapping[str, str], agg: Aggregate) -> str:
    if agg.column is None:
        return "int64"
    arrow_type = _column(columns, agg.column, "aggregates")
    kind = type_class(arrow_type)
    if agg.function in _NUMERIC_AGGREGATES and kind != "numeric":
        raise _invalid(
            f"{agg.function} needs a numeric column; {agg.column!r} is {arrow_type}",
            "aggregate_not_numeric", column=agg.column, type=arrow_type, function=agg.function,
        )  # fmt: skip
    if agg.function in ("min", "max") and kind == "other":
        raise _invalid(
            f"{agg.function} needs an ordered column; {agg.column!r} is {arrow_type}",
            "column_type_mismatch", column=agg.column, type=arrow_type, function=agg.function,
        )  # fmt: skip
    if agg.function in ("count", "count_distinct"):
        return "int64"
    return "double" if agg.function == "mean" else arrow_type


# Running -------------------------------------------------------------------------------------


def _scalar(value: Any, arrow_type: pa.DataType) -> Any:
    if isinstance(value, str) and (pa.types.is_temporal(arrow_type)):
        return pa.scalar(_parse_temporal(value)).cast(arrow_type)
    return value


def _expression(item: Filter, arrow_type: pa.DataType) -> pc.Expression:
    field = pc.field(item.column)
    op = item.op
    if op == "is_null":
        return field.is_null()
    if op == "not_null":
        return field.is_valid()
    if op == "contains":
        return pc.match_substring(field, item.value)
    if op == "starts_with":
        return pc.starts_with(field, item.value)
    if op in ("in", "not_in"):
        values = pa.array([_scalar(v, arrow_type) for v in item.value]).cast(arrow_type)
        found = field.isin(values)
        return found if op == "in" else ~found
    value = _scalar(item.value, arrow_type)
    comparisons = {
        "==": field == value, "!=": field != value, "<": field < value, "<=": field <= value,
        ">": field > value, ">=": field >= value,
    }  # fmt: skip
    return comparisons[op]


def run_query(spec: QuerySpec, table: pa.Table, right: pa.Table | None = None) -> pa.Table:
    """Evaluate ``spec`` over ``table`` (and ``right`` for its join). Call :func:`check_query`
    first: this trusts the spec to fit the schemas."""
    if spec.join is not None:
        assert right is not None, "a join needs the right table"
        table = table.join(
            right, keys=spec.join.left_on, right_keys=spec.join.right_on,
            join_type=_JOIN_TYPES[spec.join.how], right_suffix=RIGHT_SUFFIX,
            coalesce_keys=True,
        )  # fmt: skip
    if spec.filters:
        condition = None
        for item in spec.filters:
            expr = _expression(item, table.schema.field(item.column).type)
            condition = expr if condition is None else condition & expr
        table = table.filter(condition)
    if spec.aggregates:
        table = _aggregate(table, spec.group_by, spec.aggregates)
    elif spec.columns is not None:
        table = table.select(spec.columns)
    if spec.order_by:
        keys = [(o.column, "descending" if o.descending else "ascending") for o in spec.order_by]
        table = table.sort_by(keys)
    if spec.limit is not None:
        table = table.slice(0, spec.limit)
    return table.combine_chunks()


def _aggregate(
    table: pa.Table, group_by: Sequence[str], aggregates: Sequence[Aggregate]
) -> pa.Table:
    requests: list[tuple[Any, str]] = []
    names: list[str] = []
    for agg in aggregates:
        if agg.column is None:
            requests.append(([], "count_all"))
        elif agg.function == "count":
            requests.append((agg.column, "count"))
        else:
            requests.append((agg.column, agg.function))
        names.append(agg.output)
    grouped = table.group_by(list(group_by), use_threads=False).aggregate(requests)
    # Arrow versions differ in whether the keys come before or after the aggregates.
    k = len(group_by)
    first = k if grouped.column_names[:k] == list(group_by) else 0
    values = {name: grouped.column(first + i) for i, name in enumerate(names)}
    keys = {name: grouped.column(name) for name in group_by}
    return pa.table({**keys, **values})
