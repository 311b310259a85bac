"""Follow-up questions in a conversation: the previous turn's reading (its
:class:`~rivergen.services.planning.intents.QueryIntent`) changed by a short question.

Five patterns are read, each a transformation of the previous SELECT:

- ``and by country?`` adds a grouping (``by country instead`` replaces the grouping);
- ``only 1997``, ``only in Germany`` add a filter (replacing one on the same column);
- ``show the top 5 instead`` (``bottom 3``) changes the limit and the order;
- ``what about France?`` swaps the value of a filter already there;
- ``why?`` explains how the previous answer was read and computed.

Columns, values, dates and countries are found by the grammar's own phrase reading
(:func:`~rivergen.services.planning.query_grammar.pieces` over the catalog's vocabulary), not
by a second grammar. A follow-up that names several possible columns is answered with a
:class:`Clarify` (its options are ready readings; the next turn picks one); one that cannot be
read is :class:`~rivergen.services.planning.intents.NotUnderstood`, never a guess. A question
that is no follow-up gives None: it is read as a question of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal

import sqlglot
from pydantic import BaseModel, Field
from sqlglot import exp

from rivergen.services.planning.catalog import PromptCatalog
from rivergen.services.planning.intents import NotUnderstood, QueryIntent, _Intent
from rivergen.services.planning.lexicon import (
    ColumnRef,
    Token,
    Vocabulary,
    build_vocabulary,
    is_numeric,
    is_temporal,
    name_parts,
    singular,
    tokenize,
)
from rivergen.services.planning.query_grammar import pieces
from rivergen.services.planning.sql_writer import ident, quote

DIALECT = "duckdb"
MAX_OPTIONS = 6


class ClarifyOption(BaseModel):
    """One reading a clarifying question offers."""

    label: str = Field(description="What the option says, e.g. `employees.hireDate`.")
    intent: QueryIntent = Field(description="The reading it stands for.")


class Clarify(_Intent):
    """The follow-up names several columns: which one? The next turn's answer picks one."""

    kind: Literal["clarify"] = "clarify"
    question: str
    options: list[ClarifyOption] = Field(min_length=2)


class Why(_Intent):
    """``why?``: how the previous answer was read and computed."""

    kind: Literal["why"] = "why"
    prior: QueryIntent


FollowUp = QueryIntent | NotUnderstood | Clarify | Why

_WHY = {
    ("why",),
    ("why", "that"),
    ("why", "is", "that"),
    ("why", "so"),
    ("explain",),
    ("explain", "that"),
    ("explain", "this"),
    ("how", "was", "this", "computed"),
    ("how", "was", "that", "computed"),
    ("how", "did", "you", "get", "that"),
    ("how", "did", "you", "compute", "that"),
}
_SOFT = frozenset(
    {
        "show",
        "me",
        "the",
        "instead",
        "now",
        "then",
        "please",
        "rather",
        "just",
        "only",
        "give",
        "and",
        "but",
    }
)
_ORDINALS = {
    "first": 0,
    "second": 1,
    "third": 2,
    "fourth": 3,
    "fifth": 4,
    "sixth": 5,
    "1st": 0,
    "2nd": 1,
    "3rd": 2,
    "4th": 3,
    "5th": 4,
    "6th": 5,
}
_TIME_UNITS = {
    "year": "year",
    "years": "year",
    "month": "month",
    "months": "month",
    "quarter": "quarter",
    "quarters": "quarter",
}


def read_followup(
    question: str,
    prior: QueryIntent | None,
    catalog: PromptCatalog,
    clarification: Clarify | None = None,
) -> FollowUp | None:
    """What ``question`` asks of the previous turn's reading ``prior`` (None: the conversation
    has none yet), or of the ``clarification`` the previous turn asked; None when it is no
    follow-up."""
    tokens, stray = tokenize(question)
    if stray:
        return None
    words = [t.text for t in tokens]
    if clarification is not None:
        picked = _pick(words, clarification, build_vocabulary(catalog))
        if picked is not None:
            return picked
    if tuple(words) in _WHY:
        if prior is None:
            return NotUnderstood(message="Why what? There is no earlier answer to explain.")
        return Why(prior=prior, understood=["why: how the previous answer was read"])
    kind, start, end = _pattern(words)
    if kind is None:
        return None
    if prior is None:
        return NotUnderstood(
            message=f"`{question.strip()}` follows up an earlier answer, and there is none in "
            "this conversation yet.",
        )
    try:
        return _apply(kind, _Query(prior, catalog), tokens, start, end)
    except _NotRead as exc:
        return NotUnderstood(message=exc.message, unknown=exc.unknown)
    except _Ambiguous as exc:
        return exc.clarify


def _apply(kind: str, query: _Query, tokens: list[Token], start: int, end: int) -> QueryIntent:
    if kind == "limit":
        return query.limit([t for t in tokens if t.text not in _SOFT])
    if kind in ("group", "regroup"):
        return query.group([t.text for t in tokens[start:end]], replace=kind == "regroup")
    return query.filter(tokens[start:end], swap=kind == "swap")


def _pattern(words: list[str]) -> tuple[str | None, int, int]:
    """Which follow-up pattern ``words`` are, and where the words it applies to start and
    end."""
    body = words[:-1] if words[-1:] == ["instead"] else words
    instead = len(body) < len(words)
    soft = [w for w in body if w not in _SOFT]
    if len(soft) == 2 and soft[0] in ("top", "bottom", "first", "last"):
        return "limit", 0, len(words)
    for heads, kind in (
        (
            (
                ("and", "by"),
                ("and", "per"),
                ("also", "by"),
                ("and", "also", "by"),
                ("and", "broken", "down", "by"),
                ("and", "split", "by"),
            ),
            "group",
        ),
        (
            (("by",), ("per",), ("group", "by"), ("grouped", "by"), ("broken", "down", "by")),
            "regroup",
        ),
        (
            (
                ("what", "about"),
                ("how", "about"),
                ("and", "what", "about"),
                ("what", "of"),
                ("and", "for"),
            ),
            "swap",
        ),
        (
            (
                ("only",),
                ("just",),
                ("and", "only"),
                ("but", "only"),
                ("only", "for"),
                ("only", "in"),
            ),
            "filter",
        ),
    ):
        for head in sorted(heads, key=len, reverse=True):
            if tuple(body[: len(head)]) == head and len(body) > len(head):
                if kind == "group" and instead:
                    kind = "regroup"
                return kind, len(head), len(body)
    return None, 0, 0


def _pick(words: list[str], clarification: Clarify, vocabulary: Vocabulary) -> FollowUp | None:
    """The option an answer to a clarifying question picks: by its place (`the second`,
    `2`), or by naming it; None when the answer names none of them."""
    options = clarification.options
    soft = [w for w in words if w not in _SOFT and w not in ("one", "option", "use", "it", "is")]
    if len(soft) == 1:
        word = soft[0]
        index = _ORDINALS.get(word)
        if index is None and word.isdigit():
            index = int(word) - 1
        if word == "last":
            index = len(options) - 1
        if index is not None:
            if 0 <= index < len(options):
                return options[index].intent
            return NotUnderstood(
                message=f"There are {len(options)} options; pick one of 1 to {len(options)}.",
                unknown=[word],
            )
    named = [o for o in options if _names(soft, o, vocabulary)]
    if len(named) == 1:
        return named[0].intent
    if len(named) > 1:
        return NotUnderstood(
            message="That names several of the options: "
            + ", ".join(o.label for o in named)
            + ". Say which one (`the first`).",
        )
    return None


def _names(words: list[str], option: ClarifyOption, vocabulary: Vocabulary) -> bool:
    if not words:
        return False
    table, _, column = option.label.partition(".")
    label_words = set(name_parts(column)) | {
        column.casefold(),
        table.casefold(),
        singular(table.casefold()),
    }
    if all(w in label_words or singular(w) in label_words for w in words):
        return True
    match = vocabulary.match(words, "columns")
    if match is None or match[0] != len(words):
        return False
    refs = match[1]
    assert isinstance(refs, list)
    return any(f"{r.table}.{r.column}" == option.label for r in refs)


class _NotRead(Exception):
    def __init__(self, message: str, unknown: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.unknown = list(unknown)


class _Ambiguous(Exception):
    def __init__(self, clarify: Clarify) -> None:
        super().__init__(clarify.question)
        self.clarify = clarify


def _column_sql(ref: ColumnRef) -> str:
    return f"{ident(ref.table)}.{ident(ref.column)}"


def _same_column(node: exp.Expr, ref: ColumnRef) -> bool:
    return (
        isinstance(node, exp.Column)
        and node.name.casefold() == ref.column.casefold()
        and (not node.table or node.table.casefold() == ref.table.casefold())
    )


class _Query:
    """The previous SELECT and what a follow-up may change in it."""

    def __init__(self, prior: QueryIntent, catalog: PromptCatalog) -> None:
        self.prior = prior
        self.catalog = catalog
        self.vocabulary = build_vocabulary(catalog)
        try:
            tree = sqlglot.parse_one(prior.sql, dialect=DIALECT)
        except sqlglot.errors.ParseError:
            raise _NotRead("The previous answer's SQL cannot be changed by a follow-up.") from None
        if not isinstance(tree, exp.Select) or tree.args.get("with"):
            raise _NotRead(
                "The previous answer is not one plain SELECT; ask the whole question again."
            )
        self.select: exp.Select = tree
        self.tables = [t.name for t in tree.find_all(exp.Table)]

    # Helpers ---------------------------------------------------------------------------------

    def _intent(self, understood: str) -> QueryIntent:
        return QueryIntent(
            sql=self.select.sql(dialect=DIALECT),
            tables=list(dict.fromkeys(self.tables)),
            understood=[*self.prior.understood, understood],
        )

    def _refs(self, table_names: Sequence[str]) -> list[ColumnRef]:
        refs = []
        for name in table_names:
            table = self.catalog.table(name)
            if table is not None:
                refs += [ColumnRef(table.name, c.name, c.type) for c in table.columns]
        return refs

    def _metrics(self) -> list[exp.Expr]:
        return [e for e in self.select.expressions if e.find(exp.AggFunc) is not None]

    def _group_keys(self) -> list[exp.Expr]:
        group = self.select.args.get("group")
        return list(group.expressions) if group is not None else []

    def _choose(
        self, refs: list[ColumnRef], what: str, build: dict[ColumnRef, QueryIntent]
    ) -> QueryIntent:
        """The one reading, or a clarifying question among them."""
        if len(build) == 1:
            return next(iter(build.values()))
        options = [
            ClarifyOption(label=f"{r.table}.{r.column}", intent=build[r])
            for r in refs[:MAX_OPTIONS]
        ]
        raise _Ambiguous(
            Clarify(
                question=f"Which {what}: "
                + " or ".join(f"{o.label} ({n})" for n, o in enumerate(options, 1))
                + "?",
                options=options,
                understood=[f"{what}: {len(options)} columns fit"],
            )
        )

    def _copy(self) -> _Query:
        other = _Query.__new__(_Query)
        other.prior, other.catalog, other.vocabulary = self.prior, self.catalog, self.vocabulary
        other.select, other.tables = self.select.copy(), list(self.tables)
        return other

    # Top N -----------------------------------------------------------------------------------

    def limit(self, tokens: list[Token]) -> QueryIntent:
        head, count = tokens[0].text, tokens[1]
        n = count.value
        if count.kind != "number" or not isinstance(n, int) or count.unit:
            raise _NotRead(f"`{head} {count.text.strip()}`: how many?", [count.text.strip()])
        if not 0 < n <= 10_000:
            raise _NotRead(f"`{head} {n}`: a number from 1 to 10000.", [str(n)])
        descending = head in ("top", "first")
        metrics = self._metrics()
        if metrics and self._group_keys():
            alias = metrics[0].alias_or_name
            keys = [k.alias_or_name for k in self.select.expressions if k not in metrics]
            order = [
                exp.Ordered(this=exp.to_identifier(alias, quoted=_quoted(alias)), desc=descending)
            ]
            order += [exp.Ordered(this=exp.to_identifier(k, quoted=_quoted(k))) for k in keys]
            self.select.set("order", exp.Order(expressions=order))
            what = f"{'top' if descending else 'bottom'} {n} by {alias}"
        elif self.select.args.get("order") is not None:
            if head in ("bottom", "last"):
                first = self.select.args["order"].expressions[0]
                first.set("desc", not first.args.get("desc"))
            what = f"{head} {n} in the previous order"
        else:
            raise _NotRead(f"`{head} {n}` by what? The previous answer has no order or total.")
        self.select.set("limit", exp.Limit(expression=exp.Literal.number(n)))
        return self._intent(f"{head} {n}: {what} (follow-up)")

    # Grouping --------------------------------------------------------------------------------

    def group(self, words: list[str], *, replace: bool) -> QueryIntent:
        if not self._metrics():
            raise _NotRead(
                "The previous answer has no total or count to break down; ask for "
                "one (`how many orders by country`)."
            )
        phrase = " ".join(words)
        unit = _TIME_UNITS.get(words[0]) if len(words) == 1 else None
        dates = [r for r in self._refs(self.tables) if is_temporal(r)]
        if unit is not None and dates:
            refs = self._preferred_dates(dates)
            builds = {r: self._copy()._add_group(r, unit, replace) for r in refs}
            return self._choose(refs, f"date for `{phrase}`", builds)
        match = self.vocabulary.match(words, "columns")
        if match is None or match[0] != len(words):
            raise _NotRead(f"By `{phrase}`: no column of that name.", words)
        named = match[1]
        assert isinstance(named, list)
        refs = [r for r in named if r.table in self.tables]
        joins = {r: self._join_to(r.table) for r in named if r.table not in self.tables}
        if not refs:
            refs = [r for r, j in joins.items() if j is not None]
        if not refs:
            raise _NotRead(
                f"By `{phrase}`: none of {', '.join(self.tables)} has or refers to such a column.",
                words,
            )
        builds = {r: self._copy()._add_group(r, None, replace, joins.get(r)) for r in refs}
        return self._choose(refs, f"column for `{phrase}`", builds)

    def _add_group(
        self,
        ref: ColumnRef,
        unit: str | None,
        replace: bool,
        join: tuple[str, str, str] | None = None,
    ) -> QueryIntent:
        if join is not None:
            self._join(ref.table, join)
        keys = self._group_keys()
        metrics = self._metrics()
        if replace:
            self.select.set("expressions", [e for e in self.select.expressions if e in metrics])
            self.select.set("group", None)
            self.select.set("order", None)
            self.select.set("limit", None)  # a new breakdown: every group of it
            keys = []
        column = _column_sql(ref)
        sql = (
            f"YEAR({column})"
            if unit == "year"
            else f"CAST(DATE_TRUNC('{unit}', {column}) AS DATE)"
            if unit
            else column
        )
        names = {e.alias_or_name.casefold() for e in self.select.expressions}
        alias = unit or ref.column
        if alias.casefold() in names:
            alias = f"{ref.table}_{alias}"
        key = sqlglot.parse_one(sql, dialect=DIALECT)
        groups = [e for e in self.select.expressions if e not in metrics]
        projection = exp.alias_(key.copy(), alias, quoted=_quoted(alias))
        self.select.set("expressions", [*groups, projection, *metrics])
        self.select.set("group", exp.Group(expressions=[*keys, key]))
        order = self.select.args.get("order")
        new_key = exp.Ordered(this=exp.to_identifier(alias, quoted=_quoted(alias)))
        if order is None:
            keys_order = [
                exp.Ordered(
                    this=exp.to_identifier(g.alias_or_name, quoted=_quoted(g.alias_or_name))
                )
                for g in groups
            ]
            self.select.set("order", exp.Order(expressions=[*keys_order, new_key]))
        else:
            order.set("expressions", [*order.expressions, new_key])
        how = f"{unit} of {ref.table}.{ref.column}" if unit else f"{ref.table}.{ref.column}"
        verb = "grouped instead by" if replace else "also grouped by"
        return self._intent(f"by {unit or ref.column}: {verb} {how} (follow-up)")

    def _preferred_dates(self, refs: list[ColumnRef]) -> list[ColumnRef]:
        """A table's own date (`orders.orderDate`) before its others, like the grammar."""
        mine = [r for r in refs if singular(r.table.lower()) in name_parts(r.column)]
        return mine if len(mine) == 1 else refs

    def _join_to(self, table: str) -> tuple[str, str, str] | None:
        """(a table of the query, its column, ``table``'s column) joining ``table`` on a
        declared relationship or a key named alike (`customerID` in both)."""
        for key in self.catalog.keys:
            if key.table in self.tables and key.ref_table == table:
                return key.table, key.column, key.ref_column
        other = self.catalog.table(table)
        if other is None or not other.columns:
            return None
        own_key = other.columns[0].name
        if name_parts(own_key)[-1:] != ["id"]:
            return None
        for name in self.tables:
            mine = self.catalog.table(name)
            if mine is not None and any(c.name == own_key for c in mine.columns):
                return name, own_key, own_key
        return None

    def _join(self, table: str, join: tuple[str, str, str]) -> None:
        base, column, other = join
        on = f"{ident(base)}.{ident(column)} = {ident(table)}.{ident(other)}"
        self.select.join(ident(table), on=on, dialect=DIALECT, copy=False)
        self.tables.append(table)

    # Filters ---------------------------------------------------------------------------------

    def filter(self, tokens: list[Token], *, swap: bool) -> QueryIntent:
        tokens = _years_as_dates(tokens)
        found, unknown = pieces(tokens, self.vocabulary)
        if unknown or len(found) != 1:
            unread = [w.strip() for w in unknown or [t.text for t in tokens]]
            raise _NotRead(
                f"Not understood: {' '.join(unread)}. A follow-up names one value, a year or a "
                "country (`only 1997`, `what about Germany?`).",
                unread,
            )
        [piece] = found
        said = " ".join(piece.words)
        if piece.kind == "date":
            bounds: list[tuple[str, date]] = piece.data
            dates = [r for r in self._refs(self.tables) if is_temporal(r)]
            filtered = [r for r in dates if self._conditions_on(r)]
            refs = filtered or self._preferred_dates(dates)
            if not refs:
                years = [
                    r
                    for r in self._refs(self.tables)
                    if is_numeric(r) and name_parts(r.column) == ["year"]
                ]
                if len(years) == 1 and _whole_year(bounds) is not None:
                    year = _whole_year(bounds)
                    return self._condition(years[0], f"= {year}", said, swap)
                raise _NotRead(f"`{said}`: no date column in {', '.join(self.tables)}.")
            builds = {r: self._copy()._condition(r, _bounds_sql(bounds), said, swap) for r in refs}
            return self._choose(refs, f"date for `{said}`", builds)
        if piece.kind == "value":
            options: list[tuple[ColumnRef, str]] = piece.data
            mine = [(r, v) for r, v in options if r.table in self.tables]
            if not mine:
                raise _NotRead(f"`{said}` is no value of {', '.join(self.tables)}.", piece.words)
            if swap:  # the column the previous answer filtered on
                held = [(r, v) for r, v in mine if self._conditions_on(r)]
                mine = held or mine
            refs = list(dict.fromkeys(r for r, _ in mine))
            builds = {r: self._copy()._condition(r, f"= {quote(v)}", said, swap) for r, v in mine}
            return self._choose(refs, f"column for `{said}`", builds)
        if piece.kind in ("country", "state"):
            places: tuple[str, ...] = piece.data
            refs = [
                r
                for r in self._refs(self.tables)
                if not is_numeric(r) and piece.kind in name_parts(r.column)
            ]
            if not refs:
                raise _NotRead(f"`{said}`: no {piece.kind} column in {', '.join(self.tables)}.")
            listed = ", ".join(quote(c.lower()) for c in places)
            builds = {
                r: self._copy()._condition(r, f"IN ({listed})", said, swap, lower=True)
                for r in refs
            }
            return self._choose(refs, f"{piece.kind} column for `{said}`", builds)
        raise _NotRead(
            f"`{said}`: a follow-up filter names a value, a year or a country.", piece.words
        )

    def _conjuncts(self) -> list[exp.Expr]:
        where = self.select.args.get("where")
        if where is None:
            return []
        return list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]

    def _conditions_on(self, ref: ColumnRef) -> list[exp.Expr]:
        return [c for c in self._conjuncts() if any(_same_column(n, ref) for n in c.walk())]

    def _condition(
        self, ref: ColumnRef, predicate: str, said: str, swap: bool, *, lower: bool = False
    ) -> QueryIntent:
        held = self._conditions_on(ref)
        if swap and not held:
            raise _NotRead(
                f"The previous answer has no filter on {ref.table}.{ref.column} to change for "
                f"`{said}`; say `only {said}` to add one."
            )
        kept = [c for c in self._conjuncts() if all(c is not h for h in held)]
        column = _column_sql(ref)
        target = f"lower({column})" if lower else column
        # A date range is two comparisons, each of the column.
        new = [
            sqlglot.parse_one(f"{target} {p}", dialect=DIALECT) for p in predicate.split(" AND ")
        ]
        self.select.set("where", exp.Where(this=exp.and_(*kept, *new)))
        verb = "instead" if held else "added"
        return self._intent(f"{said}: {ref.table}.{ref.column} {predicate} ({verb}, follow-up)")


def _quoted(name: str) -> bool:
    return ident(name) != name


def _years_as_dates(tokens: list[Token]) -> list[Token]:
    """`only 1997`: a bare year is the year (`in 1997`)."""
    if len(tokens) == 1 and tokens[0].kind == "number":
        value = tokens[0].value
        if isinstance(value, int) and 1900 <= value <= 2100 and not tokens[0].unit:
            return [Token("in"), tokens[0]]
    return tokens


def _bounds_sql(bounds: list[tuple[str, date]]) -> str:
    return " AND ".join(f"{op} DATE {quote(day.isoformat())}" for op, day in bounds)


def _whole_year(bounds: list[tuple[str, date]]) -> int | None:
    if len(bounds) != 2:
        return None
    (first_op, first), (second_op, second) = bounds
    if (
        (first_op, second_op) == (">=", "<")
        and (first.month, first.day) == (1, 1)
        and (second == date(first.year + 1, 1, 1))
    ):
        return first.year
    return None
