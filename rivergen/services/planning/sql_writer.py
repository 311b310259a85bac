"""A read plan to one SELECT: implicit columns found, tables joined on their keys; and
:func:`read_query`, a question read and written as SQL."""

from __future__ import annotations

import copy
import re
from datetime import date
from typing import Any

from sqlglot.tokens import Tokenizer

from rivergen.engine.spec import type_class
from rivergen.services.planning.catalog import CatalogTable, PromptCatalog
from rivergen.services.planning.intents import Intent, NotUnderstood, QueryIntent
from rivergen.services.planning.lexicon import (
    LINE_WORDS,
    ColumnRef,
    Token,
    Vocabulary,
    column_ref,
    counts_things,
    is_numeric,
    is_temporal,
    is_year,
    name_parts,
    singular,
)
from rivergen.services.planning.measures import MeasureError, measure_sql
from rivergen.services.planning.query_grammar import (
    Condition,
    Metric,
    OfAll,
    Plan,
    Unreadable,
    implicit_in,
    read_plan,
    unit_fits,
)

_KEYWORDS = frozenset(k.upper() for k in Tokenizer.KEYWORDS) | {"YEAR", "MONTH", "DAY"}
_SQL_FUNCTIONS = {
    "count": "COUNT",
    "sum": "SUM",
    "avg": "AVG",
    "min": "MIN",
    "max": "MAX",
    "median": "MEDIAN",
}
_LABELS = {
    "count": "number_of",
    "sum": "total",
    "avg": "average",
    "min": "min",
    "max": "max",
    "median": "median",
    "spread": "spread",
}


def quote(text: str) -> str:
    """A SQL string literal: the text between single quotes, its quotes doubled."""
    return "'" + text.replace("'", "''") + "'"


def _literal(value: Any, ref: ColumnRef) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        if not is_numeric(ref):
            raise Unreadable(f"{ref.column} is not a number; it cannot be compared with {value}")
        return repr(value)
    if is_temporal(ref):
        try:
            date.fromisoformat(str(value))
        except ValueError:
            raise Unreadable(f"{value!r} is not a date for {ref.column}") from None
        return f"DATE {quote(str(value))}"
    if is_numeric(ref):
        raise Unreadable(f"{ref.column} is a number; it cannot be compared with {value!r}")
    return quote(str(value))


def _special_condition(condition: Condition, ref: ColumnRef) -> str | None:
    """A month of every year, a date relative to the latest, an empty column; None for the
    other conditions."""
    if condition.op == "month":
        if is_year(ref) or not is_temporal(ref):
            raise Unreadable(f"{ref.column} has no months")
        return f"MONTH({_col(ref)}) = {int(condition.value)}"
    if condition.op == "recent":
        return _recent_sql(ref, *condition.value)
    if condition.op in ("is null", "is not null"):
        return f"{_col(ref)} {condition.op.upper()}"
    if condition.op in ("yes", "no"):
        yes, no = condition.value
        return f"{_col(ref)} {yes if condition.op == 'yes' else no}"
    if isinstance(condition.value, OfAll):  # "more than the average": of every row
        if not is_numeric(ref):
            raise Unreadable(f"{ref.column} is not a number: it has no average")
        function = _SQL_FUNCTIONS[condition.value.function]
        return (
            f"{_col(ref)} {condition.op} (SELECT {function}({_col(ref)}) FROM {ident(ref.table)})"
        )
    if isinstance(condition.value, ColumnRef):  # "fewer units in stock than reorder level"
        return f"{_col(ref)} {condition.op} {_col(condition.value)}"
    return None


def _recent_sql(ref: ColumnRef, how: str, n: int, unit: str) -> str:
    """Relative to the latest date of the column's table: within the last ``n`` units of it,
    or in the calendar month or year of it."""
    column = _col(ref)
    latest = f"(SELECT MAX({column}) FROM {ident(ref.table)})"
    if is_year(ref):
        if unit != "year":
            raise Unreadable(f"{ref.column} holds only years")
        return f"{column} > {latest} - {n}" if how == "within" else f"{column} = {latest}"
    if not is_temporal(ref):
        raise Unreadable(f"{ref.column} is not a date")
    if how == "within":
        return f"{column} > {latest} - INTERVAL {int(n)} {unit.upper()}"
    if unit == "year":
        return f"YEAR({column}) = YEAR({latest})"
    return f"DATE_TRUNC('month', {column}) = DATE_TRUNC('month', {latest})"


def _year_bound(value: str, ref: ColumnRef) -> str:
    """A date bound on a column of whole years: the first day of a year is that year; any
    other day splits a year, which a year column cannot."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise Unreadable(f"{value!r} is not a date for {ref.column}") from None
    if (day.month, day.day) != (1, 1):
        raise Unreadable(f"{ref.column} holds whole years; {value} is within one")
    return str(day.year)


def ident(name: str) -> str:
    """A table or column name as SQL: bare when it is a plain lower-case word that is no SQL
    keyword, else double-quoted (a dataset named `Sales 2024`, a column `order`)."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name.upper() not in _KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def _col(ref: ColumnRef) -> str:
    if ref.formula is not None:  # "the ratio of A to B": a ratio by zero is no value
        op, left, right = ref.formula
        divisor = f"NULLIF({_col(right)}, 0)" if op == "/" else _col(right)
        return f"({_col(left)} {op} {divisor})"
    column = f"{ident(ref.table)}.{ident(ref.column)}"
    if ref.parse is not None:  # a date held as text, read with its format
        return f"strptime({column}, {quote(ref.parse)})"
    return column


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
            raise Unreadable(f"{words}: of which column?")
        tables = [*([near] if near else []), *self.order_tables]
        if word == "@key":  # "order 10248": the key of the table just named, no other
            tables = tables[:1]
        for name in dict.fromkeys(tables):
            ref = implicit_in(self._table(name), word)
            if ref is not None:
                self.plan.touch(ref.table)
                return ref
        parent = self._parent_date(tables) if word == "@date" else None
        if parent is not None:
            return parent
        raise Unreadable(f"{words}: no column of {', '.join(self.order_tables)} fits")

    def _parent_date(self, tables: list[str]) -> ColumnRef | None:
        """A date of rows that have none of their own: their parent's (an order line's date
        is its order's), when one table they refer to has one."""
        found = {
            ref
            for name in dict.fromkeys(tables)
            for other in self.catalog.tables
            if other.name != name and self.key_between(name, other.name) is not None
            for ref in [implicit_in(other, "@date")]
            if ref is not None
        }
        if len(found) != 1:
            return None
        ref = found.pop()
        self.plan.touch(ref.table)
        self.plan.understood.append(f"the date: {ref.table}.{ref.column}, of the rows' parent")
        return ref

    def resolve(self) -> None:
        if self.plan.entity is None and not self.plan.tables:
            raise Unreadable("Which data? No catalog table or column is named.")
        named = [self.plan.entity, *self.plan.named] if self.plan.entity else []
        for condition in self.plan.conditions:
            ref = condition.column
            if condition.from_value and ref and named and ref.table not in named:
                # "customers in London": London is a known city of employees, but customers
                # have a city too; the question is about customers.
                self._own_column(condition, ref, named)
            if condition.column is None:
                condition.column = self.implicit(
                    condition.hint,
                    condition.unit,
                    f"`{condition.op} {condition.value}`",
                    condition.near,
                )
            if not unit_fits(condition.unit, condition.column):
                raise Unreadable(
                    f"{condition.value} in another unit than {condition.column.column}: "
                    "ask in the column's unit"
                )

    def _own_column(self, condition: Condition, ref: ColumnRef, named: list[str]) -> None:
        """A value known in a table the question does not name, read on the like column of
        the first table it names that has one."""
        for name in dict.fromkeys(named):
            table = self.catalog.table(name)
            columns = table.columns if table is not None else []
            own = [c for c in columns if c.name.casefold() == ref.column.casefold()]
            # ...or the one column named like it with a word before (`shipCountry`)
            own = own or [
                c
                for c in columns
                if name_parts(c.name)[-len(name_parts(ref.column)) :] == name_parts(ref.column)
            ]
            if len(own) == 1 and type_class(own[0].type) == type_class(ref.type):
                condition.column = column_ref(name, own[0])
                self.plan.understood.append(f"{condition.value}: read as {name}.{own[0].name}")
                return

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

    def base(self, tables: list[str]) -> tuple[str, list[tuple[str, str, str, str]]]:
        """The table the others are joined to, and the joins: (table, joined to, its column,
        the table's column). Each join follows a key from a table already joined to the
        table it refers to (many to one, so the base's rows are never repeated), through
        tables in between when needed (order lines -> products -> categories)."""
        if len(tables) == 1:
            return tables[0], []
        # Through tables in between only from a table the question is about: a table it
        # does not name joins the others directly or not at all; but the lines of orders join
        # through their order and their product ("customers who ordered Chai").
        others = [t.name for t in self.catalog.tables if t.name not in tables]
        unnamed = [(t, 1) for t in others] + [(t, 2) for t in others if _is_lines(t)]
        for candidate, hops in [*((t, 3) for t in tables), *unnamed]:
            joins = self._joins_from(candidate, tables, hops)
            if joins is not None:
                return candidate, joins
        raise Unreadable(f"No key joins {', '.join(tables)}.")

    def _joins_from(
        self, base: str, tables: list[str], hops: int
    ) -> list[tuple[str, str, str, str]] | None:
        joined = [base]
        joins: list[tuple[str, str, str, str]] = []
        for wanted in tables:
            if wanted in joined:
                continue
            path = self._path(joined, wanted, hops)
            if path is None:
                return None
            for left, right, key in path:
                if right not in joined:
                    joined.append(right)
                    joins.append((right, left, *key))
        return joins

    def _path(
        self, starts: list[str], wanted: str, hops: int
    ) -> list[tuple[str, str, tuple[str, str]]] | None:
        """The shortest chain of keys from one of ``starts`` to ``wanted`` (``hops`` at
        most)."""
        frontier: list[tuple[str, list[tuple[str, str, tuple[str, str]]]]] = [
            (s, []) for s in starts
        ]
        seen = set(starts)
        for _ in range(hops):
            following = []
            for table, path in frontier:
                for other in self.catalog.tables:
                    if other.name in seen:
                        continue
                    key = self.key_between(table, other.name)
                    if key is None:
                        continue
                    step = [*path, (table, other.name, key)]
                    if other.name == wanted:
                        return step
                    seen.add(other.name)
                    following.append((other.name, step))
            frontier = following
        return None

    def _own_key(self, name: str) -> ColumnRef | None:
        """The column that identifies a table's rows by its name (`customerID`)."""
        table = self._table(name)
        refs = [column_ref(table.name, c) for c in table.columns]
        key = [r for r in refs if name_parts(r.column) == [singular(table.name.lower()), "id"]]
        return key[0] if key else None

    def group_columns(self, group: ColumnRef | str) -> list[ColumnRef]:
        if isinstance(group, ColumnRef):
            return [group]
        if group.startswith("@"):
            return [self.implicit("@date", None, f"per {group[1:]}")]
        table = self._table(group)
        refs = [column_ref(table.name, c) for c in table.columns]
        key = self._own_key(group)
        return ([key] if key else refs[:1]) + display_names(refs)

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

    def metric_sql(self, metric: Metric, base: str) -> str:
        sql = self._metric_sql(metric, base)
        parse = metric.column.parse if metric.column is not None else None
        if parse is not None and metric.function in ("min", "max"):
            # the earliest of dates held as text: said as the data writes them
            return f"strftime({sql}, {quote(parse)})"
        return f"{sql} * {metric.scale!r}" if metric.scale is not None else sql

    def _metric_sql(self, metric: Metric, base: str) -> str:
        if metric.measure is not None:
            m = metric.measure
            function = None if metric.function == "measure" else metric.function
            try:
                return measure_sql(m.expression, m.aggregation, table=m.table, function=function)
            except MeasureError as exc:
                raise Unreadable(f"the measure {m.name}: {exc}") from None
        if metric.column is None:
            if metric.table == base:
                return "COUNT(*)"
            assert metric.table is not None
            key = self.key_between(base, metric.table)
            if key is not None:
                return f"COUNT(DISTINCT {ident(base)}.{ident(key[0])})"
            own = self._own_key(metric.table) if metric.table in self.plan.tables else None
            if own is None:
                raise Unreadable(f"Counting {metric.table} from {base}: no key between them.")
            return f"COUNT(DISTINCT {_col(own)})"  # joined further on: its own key
        if metric.function == "count_distinct":
            return f"COUNT(DISTINCT {_col(metric.column)})"
        if metric.function == "spread":  # the greatest less the least
            return f"MAX({_col(metric.column)}) - MIN({_col(metric.column)})"
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
        special = _special_condition(condition, ref)
        if special is not None:
            return special
        if condition.op in ("in_ci", "not in_ci"):
            if is_numeric(ref) or is_temporal(ref):
                raise Unreadable(f"{ref.column} is not text")
            values = ", ".join(quote(str(v)) for v in condition.value)
            return f"lower({_col(ref)}) {condition.op[:-3].upper()} ({values})"
        if condition.op in ("in", "not in"):
            values = ", ".join(_literal(v, ref) for v in condition.value)
            return f"{_col(ref)} {condition.op.upper()} ({values})"
        if condition.op in ("contains", "starts_with"):
            text = str(condition.value)
            if any(c in text for c in "%_"):
                raise Unreadable("Text to match may not contain `%` or `_`.")
            if is_numeric(ref) or is_temporal(ref):
                raise Unreadable(f"{ref.column} is not text")
            pattern = f"%{text}%" if condition.op == "contains" else f"{text}%"
            return f"{_col(ref)} LIKE {quote(pattern)}"
        if is_year(ref) and isinstance(condition.value, str):
            return f"{_col(ref)} {condition.op} {_year_bound(condition.value, ref)}"
        return f"{_col(ref)} {condition.op} {_literal(condition.value, ref)}"


_PERSON_NAME_PARTS = frozenset({"first", "last", "given", "family", "middle", "sur"})


def display_names(refs: list[ColumnRef]) -> list[ColumnRef]:
    """The columns that name a row: a person's first and last names together (firstName,
    lastName), else the first column named `...name`."""
    names = [r for r in refs if name_parts(r.column)[-1:] == ["name"]]
    person = [r for r in names if name_parts(r.column)[0] in _PERSON_NAME_PARTS]
    return person if len(person) > 1 else names[:1]


def _is_lines(table: str) -> bool:
    """Whether a table's rows are the lines of others (`order-details`, `order_items`)."""
    words = [w for w in re.split(r"[\s_\-]+", table.lower()) if w]
    return len(words) > 1 and singular(words[-1]) in LINE_WORDS


def _words(table: str) -> set[str]:
    return {singular(w) for w in re.split(r"[\s_\-]+", table.lower()) if w}


def _same_rows(named: str, used: str) -> bool:
    """Whether a query of ``used`` answers of ``named``'s rows: the same table, or a variant
    of it whose name adds words (`penguins-raw` for the penguins)."""
    return named == used or _words(named) < _words(used)


def _onto_variant(plan: Plan, catalog: PromptCatalog, tables: list[str]) -> bool:
    """A question about a table and what only a variant of it holds ("the species of the
    penguin with individual ID N31A1", the ID only in `penguins-raw`), when no key joins them:
    read whole on the variant, each column on its like column there (same name, or same
    words) and each value on the one value of it there that begins with it (`Gentoo`:
    `Gentoo penguin (Pygoscelis papua)`). False, the plan left as it was, when one variant
    does not hold it all."""
    pairs = [(t, v) for t in tables for v in tables if t != v and _same_rows(t, v)]
    if len(pairs) != 1 or any(m.measure is not None for m in plan.metrics):
        return False
    named, variant = pairs[0]
    target = catalog.table(variant)
    assert target is not None
    moved = copy.deepcopy(plan)
    try:
        _move_plan(moved, named, target)
    except LookupError:
        return False
    moved.understood.append(f"{named}: read on {variant}, which holds all that is asked")
    for name in vars(plan):
        setattr(plan, name, getattr(moved, name))
    return True


def _move_plan(plan: Plan, named: str, target: CatalogTable) -> None:
    """Every column, table and value of ``named`` in ``plan`` moved onto ``target``'s own
    (:class:`LookupError` when one has none there)."""

    def ref_of(ref: ColumnRef) -> ColumnRef:
        return _like_column(ref, target) if ref.table == named else ref

    def table_of(name: str) -> str:
        return target.name if name == named else name

    plan.projection = [ref_of(r) for r in plan.projection]
    for condition in plan.conditions:
        if condition.column is not None and condition.column.table == named:
            condition.column = ref_of(condition.column)
            if condition.from_value:
                condition.value = _like_value(condition.value, condition.column, target)
    for metric in plan.metrics:
        metric.column = ref_of(metric.column) if metric.column is not None else None
        metric.table = table_of(metric.table) if metric.table is not None else None
    plan.groups = [ref_of(g) if isinstance(g, ColumnRef) else table_of(g) for g in plan.groups]
    plan.order = [(ref_of(k) if isinstance(k, ColumnRef) else k, d) for k, d in plan.order]
    plan.entity = table_of(plan.entity) if plan.entity is not None else None
    for names in (plan.tables, plan.verbs, plan.named, plan.mentioned):
        names[:] = list(dict.fromkeys(table_of(n) for n in names))


def _like_column(ref: ColumnRef, target: CatalogTable) -> ColumnRef:
    """The one column of ``target`` named like ``ref`` (its name in any case, or the same
    words: `body_mass_g`, `Body Mass (g)`) of the same kind of type."""
    found = [c for c in target.columns if c.name.casefold() == ref.column.casefold()] or [
        c for c in target.columns if name_parts(c.name) == name_parts(ref.column)
    ]
    if len(found) != 1 or type_class(found[0].type) != type_class(ref.type):
        raise LookupError(ref.column)
    return column_ref(target.name, found[0])


def _like_value(value: Any, ref: ColumnRef, target: CatalogTable) -> Any:
    """A value (or values) as ``target``'s column ``ref`` holds it: the same, or the one
    value listed for the column whose words begin with its words."""
    if isinstance(value, list):
        return [_like_value(v, ref, target) for v in value]
    column = next(c for c in target.columns if c.name == ref.column)
    if value in column.values:
        return value
    said = str(value).casefold().split()
    found = [v for v in column.values if v.casefold().split()[: len(said)] == said]
    if len(found) != 1:
        raise LookupError(value)
    return found[0]


def write_sql(plan: Plan, catalog: PromptCatalog) -> str:
    writer = _Writer(plan, catalog)
    writer.resolve()
    tables = writer.tables()
    try:
        base, joins = writer.base(tables)
    except Unreadable:
        if not _onto_variant(plan, catalog, tables):
            raise
        base, joins = writer.base(writer.tables())
    for table, *_ in joins:
        plan.touch(table)
    plan.touch(base)
    plan.tables = [t for t in [base, *(j[0] for j in joins)]]
    left_out = [t for t in plan.mentioned if not any(_same_rows(t, u) for u in plan.tables)]
    if left_out:
        # "airports in Seattle" where Seattle names the seattle-weather table: never drop it
        raise Unreadable(f"{', '.join(left_out)}: named, but nothing is asked of it here.")
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
        return _col(ref) if is_year(ref) else f"YEAR({_col(ref)})"
    if is_year(ref):
        raise Unreadable(f"per {unit}: {ref.column} holds only a year")
    return f"CAST(DATE_TRUNC('{unit}', {_col(ref)}) AS DATE)"


def _select(writer: _Writer, base: str, joins: list[tuple[str, str, str, str]]) -> str:
    plan = writer.plan
    if plan.metrics and plan.projection and _ranked_only(plan):
        # "the species sorted by average body mass": each species, with its average
        plan.groups += list(dict.fromkeys(plan.projection))
        plan.projection = []
    items = _group_items(writer, plan)
    group_sql = [_period_sql(r, u) if u else _col(r) for r, u in items]
    names = _names(items)
    distinct = plan.distinct
    order_sql: list[str] = []
    if plan.share:
        return _share_statement(writer, base, joins, items, group_sql, names)
    if plan.metrics and plan.projection:
        listed = ", ".join(r.column for r in plan.projection)
        raise Unreadable(f"Both the columns {listed} and a total or count: group by them?")
    if plan.metrics:
        select, order_sql = _aggregates(writer, base, items, group_sql, names)
    elif items and plan.order and plan.limit is not None and not plan.projection:
        # "on which island was the heaviest penguin found": the island of the first rows
        select = [f"{g} AS {n}" for g, n in zip(group_sql, names, strict=True)]
        order_sql = _listing_order(writer, select, distinct)
        items, group_sql = [], []
    elif items and plan.projection and all(counts_things(r.column) for r in plan.projection):
        # "units in stock by category": things counted, said per group, are added up
        plan.metrics = [Metric("sum", r) for r in dict.fromkeys(plan.projection)]
        plan.projection = []
        select, order_sql = _aggregates(writer, base, items, group_sql, names)
    elif items:
        if plan.order or plan.projection:
            raise Unreadable("Groups without a total or a count cannot be sorted or listed.")
        select, distinct = [f"{g} AS {n}" for g, n in zip(group_sql, names, strict=True)], True
    else:
        select = _projection(writer, plan)
        distinct = distinct or (plan.entity is not None and plan.entity != base)
        order_sql = _listing_order(writer, select, distinct)
    if not order_sql and items:
        order_sql = names
    return _statement(writer, base, joins, select, distinct, group_sql, order_sql)


def _aggregates(
    writer: _Writer,
    base: str,
    items: list[tuple[ColumnRef, str | None]],
    group_sql: list[str],
    names: list[str],
) -> tuple[list[str], list[str]]:
    """The groups and the metrics selected, and the order of the rows."""
    plan = writer.plan
    select = [f"{g} AS {n}" for g, n in zip(group_sql, names, strict=True)]
    metric_names: dict[int, str] = {}
    for metric in plan.metrics:
        name = writer.metric_name(metric)
        metric_names[id(metric)] = name
        select.append(f"{writer.metric_sql(metric, base)} AS {ident(name)}")
    order_sql = _grouped_order(plan, items, names, metric_names)
    if order_sql:
        # Ties are broken by the groups, so `top 3` is always the same 3, in one order.
        order_sql += [n for n in names if n not in order_sql]
    return select, order_sql


def _ranked_only(plan: Plan) -> bool:
    """Whether every metric is there only to sort by (no total was asked for itself)."""
    ranked = [key for key, _ in plan.order if isinstance(key, Metric)]
    return bool(ranked) and all(any(m is r for r in ranked) for m in plan.metrics)


def _share_statement(
    writer: _Writer,
    base: str,
    joins: list[tuple[str, str, str, str]],
    items: list[tuple[ColumnRef, str | None]],
    group_sql: list[str],
    names: list[str],
) -> str:
    """`100.0 * COUNT(*) FILTER (WHERE c) / COUNT(*)`: the share, in percent, of the rows (or
    of a measure's total) that the one condition keeps; per group when grouped."""
    plan = writer.plan
    # "the share of the penguins on Biscoe that are female": said before the verb, of the
    # whole; after it, of the part
    whole = [c for c in plan.conditions if plan.verb_at >= 0 and 0 <= c.at < plan.verb_at]
    parts = [c for c in plan.conditions if c not in whole]
    if len(parts) != 1 or len(plan.metrics) > 1 or plan.projection or plan.order:
        raise Unreadable(
            "A share of what, among what? Ask it with one condition: "
            "`what percentage of orders were shipped to Germany`."
        )
    if plan.metrics and plan.metrics[0].function not in ("measure", "sum", "count"):
        raise Unreadable(f"A share of {plan.metrics[0].label()}: only of a total or a count.")
    total = writer.metric_sql(plan.metrics[0], base) if plan.metrics else "COUNT(*)"
    part = f"{total} FILTER (WHERE {writer.condition_sql(parts[0])})"
    select = [f"{g} AS {n}" for g, n in zip(group_sql, names, strict=True)]
    select.append(f"100.0 * {part} / {total} AS percent")
    sql = f"SELECT {', '.join(select)} FROM {ident(base)}"
    for table, left, fact_column, other_column in joins:
        sql += (
            f" JOIN {ident(table)} ON {ident(left)}.{ident(fact_column)} = "
            f"{ident(table)}.{ident(other_column)}"
        )
    if whole:
        sql += " WHERE " + " AND ".join(writer.condition_sql(c) for c in whole)
    if group_sql:
        sql += " GROUP BY " + ", ".join(group_sql) + " ORDER BY " + ", ".join(names)
    return sql


def _statement(
    writer: _Writer,
    base: str,
    joins: list[tuple[str, str, str, str]],
    select: list[str],
    distinct: bool,
    group_sql: list[str],
    order_sql: list[str],
) -> str:
    plan = writer.plan
    sql = f"SELECT {'DISTINCT ' if distinct else ''}{', '.join(select)} FROM {ident(base)}"
    for table, left, fact_column, other_column in joins:
        sql += (
            f" JOIN {ident(table)} ON {ident(left)}.{ident(fact_column)} = "
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
        raise Unreadable("Sorting distinct rows by a column they do not show.")
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
            raise Unreadable(f"Sorting by {key.column} needs it grouped.")
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
        raise Unreadable("What should be listed? Name a table or columns.")
    return [f"{ident(plan.entity)}.{ident(c.name)}" for c in writer._table(plan.entity).columns]


def read_query(tokens: list[Token], catalog: PromptCatalog, vocabulary: Vocabulary) -> Intent:
    """The question read (:func:`~rivergen.services.planning.query_grammar.read_plan`) and
    written as SQL over the catalog's tables, or what was not understood."""
    plan = read_plan(tokens, catalog, vocabulary)
    if isinstance(plan, NotUnderstood):
        return plan
    try:
        sql = write_sql(plan, catalog)
    except Unreadable as exc:
        return NotUnderstood(message=exc.message, unknown=exc.unknown)
    return QueryIntent(
        sql=sql, tables=plan.tables, save_as=plan.save_as, understood=plan.understood
    )
