"""Internal Compute: typed queries over Arrow tables (filters, projections, group-by aggregates,
order, limit, joins), run with Arrow's own engine (Acero: ``Table.filter``, ``Table.join``,
``Table.group_by``).

A query is a :class:`QuerySpec`, never free SQL: :func:`check_query` proves it against the
input schemas before anything runs (a column that does not exist, a value of the wrong type, a
sum over text are refused up front), and :func:`run_query` evaluates it. Both are plain
functions (no Ray), so the query job kind and the Prompt Studio call the same code.

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

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field, model_validator

from rivergen.errors import ValidationFailed

FilterOp = Literal[
    "==", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_null", "not_null", "contains",
    "starts_with",
]  # fmt: skip
AggregateFunction = Literal["count", "sum", "mean", "min", "max", "count_distinct"]
DeriveFunction = Literal["year", "month", "day", "quarter", "lower", "upper"]
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
    suffix: str = Field(
        RIGHT_SUFFIX, min_length=1, max_length=64,
        description="Appended to right columns whose names clash with the left ones.",
    )  # fmt: skip

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
        default_factory=list, max_length=20,
        description="Groups of alternatives: in each group at least one filter holds.",
    )  # fmt: skip
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
        renamed = f"{name}{join.suffix}" if name in left else name
        if renamed in out:
            raise _invalid(
                f"join: column {renamed!r} would appear twice; choose another suffix",
                "column_name_clash", column=renamed,
            )  # fmt: skip
        out[renamed] = arrow_type
    return out


_DERIVED_TYPES: dict[str, tuple[TypeClass, str]] = {
    "year": ("temporal", "int64"), "month": ("temporal", "int64"), "day": ("temporal", "int64"),
    "quarter": ("temporal", "int64"), "lower": ("string", "string"),
    "upper": ("string", "string"),
}  # fmt: skip


def _check_derived(columns: dict[str, str], derived: Derived) -> None:
    arrow_type = _column(columns, derived.column, "derive")
    needs, gives = _DERIVED_TYPES[derived.function]
    if type_class(arrow_type) != needs:
        raise _invalid(
            f"{derived.function} needs a {needs} column; {derived.column!r} is {arrow_type}",
            "column_type_mismatch", column=derived.column, type=arrow_type,
        )  # fmt: skip
    if derived.name in columns:
        raise _invalid(
            f"derive: column {derived.name!r} exists already", "column_name_clash",
            column=derived.name,
        )  # fmt: skip
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


_DERIVE: dict[str, Any] = {
    "year": pc.year, "month": pc.month, "day": pc.day, "quarter": pc.quarter,
    "lower": pc.utf8_lower, "upper": pc.utf8_upper,
}  # fmt: skip


def _condition(table: pa.Table, items: Sequence[Filter], any_of: bool = False) -> Any:
    condition = None
    for item in items:
        expr = _expression(item, table.schema.field(item.column).type)
        if condition is not None:
            expr = (condition | expr) if any_of else (condition & expr)
        condition = expr
    return condition


def _where(table: pa.Table, spec: QuerySpec) -> pa.Table:
    condition = _condition(table, spec.filters)
    for group in spec.any_of:
        alternatives = _condition(table, group, any_of=True)
        if alternatives is not None:
            condition = alternatives if condition is None else condition & alternatives
    return table if condition is None else table.filter(condition)


def run_query(
    spec: QuerySpec,
    table: pa.Table,
    right: pa.Table | None = None,
    *,
    joined: Sequence[pa.Table] = (),
) -> pa.Table:
    """Evaluate ``spec`` over ``table`` (``right`` for its ``join``, ``joined`` for each of
    its ``joins``). Call :func:`check_query` first: this trusts the spec to fit the schemas."""
    rights = ([right] if spec.join is not None else []) + list(joined)
    for join, right_table in zip(spec.all_joins, rights, strict=True):
        assert right_table is not None, "a join needs the right table"
        table = table.join(
            right_table, keys=join.left_on, right_keys=join.right_on,
            join_type=_JOIN_TYPES[join.how], right_suffix=join.suffix, coalesce_keys=True,
        )  # fmt: skip
    for derived in spec.derive:
        table = table.append_column(derived.name, _DERIVE[derived.function](table[derived.column]))
    table = _where(table, spec)
    if spec.aggregates:
        table = _aggregate(table, spec.group_by, spec.aggregates)
        if spec.having:
            table = table.filter(_condition(table, spec.having))
    elif spec.columns is not None:
        table = table.select(spec.columns)
    if spec.distinct:
        table = table.group_by(table.column_names, use_threads=False).aggregate([])
    if spec.order_by:
        keys = [(o.column, "descending" if o.descending else "ascending") for o in spec.order_by]
        table = table.sort_by(keys)
    if spec.limit is not None:
        table = table.slice(0, spec.limit)
    if spec.output is not None:
        table = table.select([o.column for o in spec.output]).rename_columns(
            [o.name for o in spec.output]
        )
    return table.combine_chunks()


def run_spec(spec: QuerySpec, tables: Mapping[UUID, pa.Table]) -> pa.Table:
    """:func:`run_query` with each input table looked up by dataset id."""
    rights = [tables[j.dataset] for j in spec.all_joins]
    if spec.join is not None:
        return run_query(spec, tables[spec.dataset], rights[0], joined=rights[1:])
    return run_query(spec, tables[spec.dataset], joined=rights)


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
