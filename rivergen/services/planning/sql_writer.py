"""A read plan to one SELECT: implicit columns found, tables joined on their keys."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlglot.tokens import Tokenizer

from rivergen.engine.spec import type_class
from rivergen.services.planning.catalog import CatalogTable, PromptCatalog
from rivergen.services.planning.lexicon import (
    ColumnRef,
    is_numeric,
    is_temporal,
    name_parts,
    singular,
)
from rivergen.services.planning.measures import MeasureError, measure_sql
from rivergen.services.planning.query_grammar import (
    Condition,
    Metric,
    Plan,
    _implicit_in,
    _Unreadable,
    unit_fits,
)

_KEYWORDS = frozenset(k.upper() for k in Tokenizer.KEYWORDS) | {"YEAR", "MONTH", "DAY"}
_SQL_FUNCTIONS = {"count": "COUNT", "sum": "SUM", "avg": "AVG", "min": "MIN", "max": "MAX"}
_LABELS = {"count": "number_of", "sum": "total", "avg": "average", "min": "min", "max": "max"}


def quote(text: str) -> str:
    """A SQL string literal: the text between single quotes, its quotes doubled."""
    return "'" + text.replace("'", "''") + "'"


def _literal(value: Any, ref: ColumnRef) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        if not is_numeric(ref):
            raise _Unreadable(f"{ref.column} is not a number; it cannot be compared with {value}")
        return repr(value)
    if is_temporal(ref):
        try:
            date.fromisoformat(str(value))
        except ValueError:
            raise _Unreadable(f"{value!r} is not a date for {ref.column}") from None
        return f"DATE {quote(str(value))}"
    if is_numeric(ref):
        raise _Unreadable(f"{ref.column} is a number; it cannot be compared with {value!r}")
    return quote(str(value))


def ident(name: str) -> str:
    """A table or column name as SQL: bare when it is a plain lower-case word that is no SQL
    keyword, else double-quoted (a dataset named `Sales 2024`, a column `order`)."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name.upper() not in _KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def _col(ref: ColumnRef) -> str:
    return f"{ident(ref.table)}.{ident(ref.column)}"


class _Writer:
    def __init__(self, plan: Plan, catalog: PromptCatalog) -> None:
        self.plan = plan
        self.catalog = catalog
        self.order_tables = [t for t in [plan.entity, *plan.tables] if t is not None]

    def _table(self, name: str) -> CatalogTable:
        table = self.catalog.table(name)
        assert table is not None, name
        return table

    def implicit(
        self, hint: str | None, unit: str | None, words: str, near: str | None = None
    ) -> ColumnRef:
        word = hint or {"money": "@money", "weight": "@weight"}.get(unit or "")
        if word is None and unit is not None and unit.startswith("u:"):
            word = f"@unit:{unit[2:]}"
        if word is None:
            raise _Unreadable(f"{words}: of which column?")
        for name in dict.fromkeys([*([near] if near else []), *self.order_tables]):
            ref = _implicit_in(self._table(name), word)
            if ref is not None:
                self.plan.touch(ref.table)
                return ref
        raise _Unreadable(f"{words}: no column of {', '.join(self.order_tables)} fits")

    def resolve(self) -> None:
        if self.plan.entity is None and not self.plan.tables:
            raise _Unreadable("Which data? No catalog table or column is named.")
        entity = self.catalog.table(self.plan.entity) if self.plan.entity else None
        for condition in self.plan.conditions:
            ref = condition.column
            if condition.from_value and entity is not None and ref and ref.table != entity.name:
                # "customers in London": London is a known city of employees, but customers
                # have a city too; the question is about customers.
                own = [c for c in entity.columns if c.name.casefold() == ref.column.casefold()]
                if own and type_class(own[0].type) == type_class(ref.type):
                    condition.column = ColumnRef(entity.name, own[0].name, own[0].type)
                    self.plan.understood.append(
                        f"{condition.value}: read as {entity.name}.{own[0].name}"
                    )
            if condition.column is None:
                condition.column = self.implicit(
                    condition.hint,
                    condition.unit,
                    f"`{condition.op} {condition.value}`",
                    condition.near,
                )
            if not unit_fits(condition.unit, condition.column):
                raise _Unreadable(
                    f"{condition.value} in another unit than {condition.column.column}: "
                    "ask in the column's unit"
                )

    def key_between(self, fact: str, other: str) -> tuple[str, str] | None:
        """(fact column, other column) when ``fact`` refers to ``other``: a declared key, or
        a column named like the other table's own id column (`customer_id`)."""
        for key in self.catalog.keys:
            if key.table == fact and key.ref_table == other:
                return key.column, key.ref_column
        wanted = [singular(other.lower()), "id"]
        other_columns = {c.name for c in self._table(other).columns}
        for column in self._table(fact).columns:
            if column.name in other_columns and name_parts(column.name) == wanted:
                return column.name, column.name
        return None

    def base(self, tables: list[str]) -> tuple[str, list[tuple[str, str, str]]]:
        if len(tables) == 1:
            return tables[0], []
        for candidate in [*tables, *(t.name for t in self.catalog.tables)]:
            joins = []
            for other in tables:
                if other == candidate:
                    continue
                key = self.key_between(candidate, other)
                if key is None:
                    break
                joins.append((other, *key))
            else:
                return candidate, joins
        raise _Unreadable(f"No key joins {', '.join(tables)}.")

    def group_columns(self, group: ColumnRef | str) -> list[ColumnRef]:
        if isinstance(group, ColumnRef):
            return [group]
        if group.startswith("@"):
            return [self.implicit("@date", None, f"per {group[1:]}")]
        table = self._table(group)
        refs = [ColumnRef(table.name, c.name, c.type) for c in table.columns]
        key = [r for r in refs if name_parts(r.column) == [singular(table.name.lower()), "id"]]
        name = [r for r in refs if name_parts(r.column)[-1:] == ["name"]][:1]
        return (key or refs[:1]) + name

    def tables(self) -> list[str]:
        plan = self.plan
        found = [t for t in [plan.entity] if t is not None and self._needs_entity()]
        refs = [*plan.projection, *(c.column for c in plan.conditions if c.column)]
        refs += [m.column for m in plan.metrics if m.column is not None]
        refs += [r for g in plan.groups for r in self.group_columns(g)]
        refs += [k for k, _ in plan.order if isinstance(k, ColumnRef)]
        found += [r.table for r in refs] + [m.table for m in plan.metrics if m.table]
        for verb in plan.verbs:
            # "quantity ordered": order lines are rows of orders already; no join needed.
            if not any(t != verb and self.key_between(t, verb) for t in found):
                found.append(verb)
        return list(dict.fromkeys(found))

    def _needs_entity(self) -> bool:
        plan = self.plan
        return not (plan.metrics or plan.projection or plan.groups) or any(
            m.table == plan.entity for m in plan.metrics
        )

    def metric_sql(self, metric: Metric, base: str, joins: list[tuple[str, str, str]]) -> str:
        if metric.measure is not None:
            m = metric.measure
            function = None if metric.function == "measure" else metric.function
            try:
                return measure_sql(m.expression, m.aggregation, table=m.table, function=function)
            except MeasureError as exc:
                raise _Unreadable(f"the measure {m.name}: {exc}") from None
        if metric.column is None:
            if metric.table == base:
                return "COUNT(*)"
            assert metric.table is not None
            key = self.key_between(base, metric.table)
            assert key is not None
            return f"COUNT(DISTINCT {ident(base)}.{ident(key[0])})"
        if metric.function == "count_distinct":
            return f"COUNT(DISTINCT {_col(metric.column)})"
        return f"{_SQL_FUNCTIONS[metric.function]}({_col(metric.column)})"

    def metric_name(self, metric: Metric) -> str:
        if metric.measure is not None:
            name = metric.measure.name
            return name if metric.function == "measure" else f"{_LABELS[metric.function]}_{name}"
        if metric.column is None:
            return f"number_of_{metric.table}"
        if metric.function == "count_distinct":
            return f"distinct_{metric.column.column}"
        return f"{_LABELS[metric.function]}_{metric.column.column}"

    def condition_sql(self, condition: Condition) -> str:
        ref = condition.column
        assert ref is not None
        if condition.op in ("yes", "no"):
            yes, no = condition.value
            return f"{_col(ref)} {yes if condition.op == 'yes' else no}"
        if condition.op in ("in_ci", "not in_ci"):
            if is_numeric(ref) or is_temporal(ref):
                raise _Unreadable(f"{ref.column} is not text")
            values = ", ".join(quote(str(v)) for v in condition.value)
            return f"lower({_col(ref)}) {condition.op[:-3].upper()} ({values})"
        if condition.op in ("in", "not in"):
            values = ", ".join(_literal(v, ref) for v in condition.value)
            return f"{_col(ref)} {condition.op.upper()} ({values})"
        if condition.op in ("contains", "starts_with"):
            text = str(condition.value)
            if any(c in text for c in "%_"):
                raise _Unreadable("Text to match may not contain `%` or `_`.")
            if is_numeric(ref) or is_temporal(ref):
                raise _Unreadable(f"{ref.column} is not text")
            pattern = f"%{text}%" if condition.op == "contains" else f"{text}%"
            return f"{_col(ref)} LIKE {quote(pattern)}"
        return f"{_col(ref)} {condition.op} {_literal(condition.value, ref)}"


def write_sql(plan: Plan, catalog: PromptCatalog) -> str:
    writer = _Writer(plan, catalog)
    writer.resolve()
    tables = writer.tables()
    base, joins = writer.base(tables)
    for table, _, _ in joins:
        plan.touch(table)
    plan.touch(base)
    plan.tables = [t for t in [base, *(j[0] for j in joins)]]
    return _select(writer, base, joins)


def _group_items(writer: _Writer, plan: Plan) -> list[tuple[ColumnRef, str | None]]:
    items: list[tuple[ColumnRef, str | None]] = []
    for group in plan.groups:
        if isinstance(group, str) and group.startswith("@"):
            items.append((writer.implicit("@date", None, f"per {group[1:]}"), group[1:]))
        else:
            items += [(r, None) for r in writer.group_columns(group)]
    return list(dict.fromkeys(items))


def _period_sql(ref: ColumnRef, unit: str) -> str:
    """A year as its number; a month or a quarter as its first day (so that January 1996 and
    January 1997 stay apart)."""
    if unit == "year":
        return f"YEAR({_col(ref)})"
    return f"CAST(DATE_TRUNC('{unit}', {_col(ref)}) AS DATE)"


def _select(writer: _Writer, base: str, joins: list[tuple[str, str, str]]) -> str:
    plan = writer.plan
    items = _group_items(writer, plan)
    group_sql = [_period_sql(r, u) if u else _col(r) for r, u in items]
    names = _names(items)
    distinct = plan.distinct
    order_sql: list[str] = []
    if plan.metrics and plan.projection:
        listed = ", ".join(r.column for r in plan.projection)
        raise _Unreadable(f"Both the columns {listed} and a total or count: group by them?")
    if plan.metrics:
        select = [f"{g} AS {n}" for g, n in zip(group_sql, names, strict=True)]
        metric_names: dict[int, str] = {}
        for metric in plan.metrics:
            name = writer.metric_name(metric)
            metric_names[id(metric)] = name
            select.append(f"{writer.metric_sql(metric, base, joins)} AS {ident(name)}")
        order_sql = _grouped_order(plan, items, names, metric_names)
        if order_sql:
            # Ties are broken by the groups, so `top 3` is always the same 3, in one order.
            order_sql += [n for n in names if n not in order_sql]
    elif items:
        if plan.order or plan.projection:
            raise _Unreadable("Groups without a total or a count cannot be sorted or listed.")
        select, distinct = [f"{g} AS {n}" for g, n in zip(group_sql, names, strict=True)], True
    else:
        select = _projection(writer, plan)
        distinct = distinct or (plan.entity is not None and plan.entity != base)
        order_sql = _listing_order(writer, select, distinct)
    if not order_sql and items:
        order_sql = names
    return _statement(writer, base, joins, select, distinct, group_sql, order_sql)


def _statement(
    writer: _Writer,
    base: str,
    joins: list[tuple[str, str, str]],
    select: list[str],
    distinct: bool,
    group_sql: list[str],
    order_sql: list[str],
) -> str:
    plan = writer.plan
    sql = f"SELECT {'DISTINCT ' if distinct else ''}{', '.join(select)} FROM {ident(base)}"
    for table, fact_column, other_column in joins:
        sql += (
            f" JOIN {ident(table)} ON {ident(base)}.{ident(fact_column)} = "
            f"{ident(table)}.{ident(other_column)}"
        )
    where = [writer.condition_sql(c) for c in plan.conditions]
    if where:
        sql += " WHERE " + " AND ".join(where)
    if plan.metrics and group_sql:
        sql += " GROUP BY " + ", ".join(group_sql)
    if order_sql:
        sql += " ORDER BY " + ", ".join(order_sql)
    if plan.limit is not None:
        sql += f" LIMIT {plan.limit}"
    return sql


def _listing_order(writer: _Writer, select: list[str], distinct: bool) -> list[str]:
    plan = writer.plan
    keys = [(k, d) for k, d in plan.order if isinstance(k, ColumnRef)]
    if distinct and any(_col(k) not in select for k, _ in keys):
        raise _Unreadable("Sorting distinct rows by a column they do not show.")
    order_sql = [f"{_col(k)}{' DESC' if d else ''}" for k, d in keys]
    if order_sql and plan.entity is not None and not distinct:
        # Ties are broken by the first column (the id): the same question, the same rows.
        first = f"{ident(plan.entity)}.{ident(writer._table(plan.entity).columns[0].name)}"
        if first not in order_sql:
            order_sql.append(first)
    return order_sql


def _grouped_order(
    plan: Plan,
    items: list[tuple[ColumnRef, str | None]],
    names: list[str],
    metric_names: dict[int, str],
) -> list[str]:
    order_sql = []
    for key, descending in plan.order:
        if isinstance(key, Metric):
            column = ident(metric_names[id(key)])
        elif (key, None) in items:
            column = names[items.index((key, None))]
        else:
            raise _Unreadable(f"Sorting by {key.column} needs it grouped.")
        order_sql.append(f"{column} DESC" if descending else column)
    return order_sql


def _names(items: list[tuple[ColumnRef, str | None]]) -> list[str]:
    names: list[str] = []
    for ref, unit in items:
        name = unit or ref.column
        if name in names or sum(1 for r, u in items if not u and r.column == ref.column) > 1:
            name = f"{ref.table}_{name}"
        names.append(name)
    return [ident(n) for n in names]


def _projection(writer: _Writer, plan: Plan) -> list[str]:
    if plan.projection:
        return [_col(r) for r in dict.fromkeys(plan.projection)]
    if plan.entity is None:
        raise _Unreadable("What should be listed? Name a table or columns.")
    return [f"{ident(plan.entity)}.{ident(c.name)}" for c in writer._table(plan.entity).columns]
