"""The question grammar of the built-in provider: phrases to pieces, pieces to one SELECT.

Reading is in two steps. :func:`_pieces` walks the tokens left to right and turns each phrase
into a piece (a table, a column, a value, a comparison, a date range, `how many`, `by`,
`top 5`...), or leaves the word as unknown when it is not a filler word. :class:`_Query` then
reads the pieces in order, each in the light of the one before (`how many` + a table is a
count, `by` + a column a group, a column + `over 100` a filter), and writes the SQL.
"""

from __future__ import annotations

import calendar
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rivergen.services.planning.catalog import CatalogMeasure, CatalogTable, PromptCatalog
from rivergen.services.planning.intents import Intent, NotUnderstood, QueryIntent
from rivergen.services.planning.lexicon import (
    COUNTRIES,
    LINE_WORDS,
    MONEY_WORDS,
    MONTHS,
    SPOKEN_UNITS,
    UNIT_WORDS,
    WEIGHT_WORDS,
    ColumnRef,
    Token,
    Vocabulary,
    is_numeric,
    is_temporal,
    name_parts,
    singular,
)

FILLERS = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "in",
        "on",
        "for",
        "from",
        "to",
        "me",
        "please",
        "show",
        "list",
        "give",
        "get",
        "find",
        "display",
        "what",
        "which",
        "is",
        "are",
        "was",
        "were",
        "be",
        "there",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "with",
        "that",
        "who",
        "whose",
        "where",
        "whom",
        "all",
        "any",
        "every",
        "and",
        "or",
        "their",
        "its",
        "it",
        "they",
        "them",
        "i",
        "we",
        "our",
        "my",
        "us",
        "you",
        "your",
        "find",
        "tell",
        "see",
        "ever",
        "value",
        "values",
        "number",
        "total",
        "how",
        "much",
        "each",
        "by",
        "per",
        "as",
        "at",
        "whose",
        "records",
        "rows",
        "entries",
        "data",
        "dataset",
        "table",
        "live",
        "living",
        "located",
        "based",
        "placed",
        "made",
        # How rows came to be: "penguins observed on Biscoe", "the heaviest mass recorded".
        "recorded",
        "observed",
        "measured",
        "sampled",
        "seen",
        "found",
        "logged",
        "reported",
    ]
)
# Words that only join pieces; kept apart from fillers for readability of the grammar.
_COUNT = {("how", "many"): False, ("number", "of"): False, ("count", "of"): False,
          ("count",): False, ("total", "number", "of"): False, ("amount", "of"): False}  # fmt: skip
_DISTINCT = {("distinct",), ("unique",), ("different",)}
_AGGREGATES = {
    ("total",): "sum", ("sum", "of"): "sum", ("sum",): "sum", ("overall",): "sum",
    ("average",): "avg", ("avg",): "avg", ("mean",): "avg", ("typical",): "avg",
    ("minimum",): "min", ("min",): "min", ("maximum",): "max", ("max",): "max",
}  # fmt: skip
_MOST = {("highest",): True, ("largest",): True, ("biggest",): True, ("most",): True,
         ("greatest",): True, ("lowest",): False, ("smallest",): False, ("least",): False,
         ("fewest",): False}  # fmt: skip
_GROUP = {("by",), ("per",), ("for", "each"), ("for", "every"), ("in", "each"), ("across",),
          ("grouped", "by"), ("broken", "down", "by"), ("split", "by"), ("each",)}  # fmt: skip
_SORT = {("sorted", "by"), ("ordered", "by"), ("order", "by"), ("sort", "by"), ("ranked", "by"),
         ("sorted", "on")}  # fmt: skip
_DIRECTION = {("ascending",): False, ("asc",): False, ("descending",): True, ("desc",): True,
              ("highest", "first"): True, ("lowest", "first"): False,
              ("largest", "first"): True, ("smallest", "first"): False,
              ("in", "descending", "order"): True, ("in", "ascending", "order"): False}  # fmt: skip
_COMPARATORS = {
    ("more", "than"): ">", ("greater", "than"): ">", ("over",): ">", ("above",): ">",
    ("exceeding",): ">", ("exceeds",): ">", (">",): ">", ("at", "least"): ">=",
    ("no", "less", "than"): ">=", (">=",): ">=", ("or", "more"): ">=", ("less", "than"): "<",
    ("fewer", "than"): "<", ("under",): "<", ("below",): "<", ("<",): "<", ("at", "most"): "<=",
    ("no", "more", "than"): "<=", ("up", "to"): "<=", ("<=",): "<=", ("equal", "to"): "=",
    ("equals",): "=", ("exactly",): "=", ("=",): "=", ("!=",): "!=", ("<>",): "!=",
    ("is",): "=", ("of",): "=",
}  # fmt: skip
# Comparative adjectives: (the column word they speak of, the operator).
_COMPARATIVES = {
    ("more", "expensive", "than"): ("price", ">"), ("pricier", "than"): ("price", ">"),
    ("cheaper", "than"): ("price", "<"), ("less", "expensive", "than"): ("price", "<"),
    ("heavier", "than"): ("weight", ">"), ("lighter", "than"): ("weight", "<"),
    ("weigh", "more", "than"): ("weight", ">"), ("weigh", "less", "than"): ("weight", "<"),
    ("weigh", "over"): ("weight", ">"), ("weigh", "under"): ("weight", "<"),
    ("weighs", "more", "than"): ("weight", ">"), ("weighs", "less", "than"): ("weight", "<"),
    ("longer", "than"): ("length", ">"), ("shorter", "than"): ("length", "<"),
}  # fmt: skip
_SUPERLATIVES = {
    ("most", "expensive"): ("price", True), ("priciest",): ("price", True),
    ("cheapest",): ("price", False), ("least", "expensive"): ("price", False),
    ("heaviest",): ("weight", True), ("lightest",): ("weight", False),
    ("longest",): ("length", True), ("shortest",): ("length", False),
    ("hottest",): ("temp", True), ("warmest",): ("temp", True), ("coldest",): ("temp", False),
    ("newest",): ("@date", True), ("latest",): ("@date", True),
    ("most", "recent"): ("@date", True), ("oldest",): ("@age", False),
    ("earliest",): ("@date", False), ("youngest",): ("@age", True),
}  # fmt: skip
_NEGATIONS = {("not",), ("except",), ("excluding",), ("other", "than"), ("outside",),
              ("but", "not"), ("not", "in"), ("except", "for")}  # fmt: skip
_TIME_UNITS = {
    ("year",): "year", ("years",): "year", ("yearly",): "year", ("annual",): "year",
    ("month",): "month", ("months",): "month", ("monthly",): "month", ("quarter",): "quarter",
    ("quarters",): "quarter", ("quarterly",): "quarter",
}  # fmt: skip
_DATE_PREFIX = {("in",): "in", ("during",): "in", ("for",): "in", ("of",): "in",
                ("since",): "since", ("from",): "in", ("starting",): "since",
                ("after",): "after", ("before",): "before", ("prior", "to"): "before",
                ("until",): "until", ("through",): "until", ("on",): "in"}  # fmt: skip
_TEXT_MATCH = {("containing",): "contains", ("contains",): "contains", ("like",): "contains",
               ("including",): "contains", ("starting", "with"): "starts_with",
               ("starts", "with"): "starts_with", ("beginning", "with"): "starts_with",
               ("named",): "=", ("called",): "="}  # fmt: skip
_SAVE = {("save", "as"), ("and", "save", "as"), ("save", "it", "as"), ("and", "save", "it", "as"),
         ("store", "as"), ("keep", "as"), ("save", "the", "answer", "as")}  # fmt: skip


@dataclass
class Piece:
    kind: str
    words: list[str]
    data: Any = None


class _Unreadable(Exception):
    def __init__(self, message: str, unknown: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.unknown = unknown or []


# Phrases to pieces ---------------------------------------------------------------------------


def _starts(words: list[str], table: Any) -> Any:
    """The longest key of ``table`` that ``words`` start with: (key, value) or None."""
    keys = sorted(table, key=len, reverse=True)
    for key in keys:
        if tuple(words[: len(key)]) == key:
            return key, (table[key] if isinstance(table, dict) else None)
    return None


def _period(tokens: list[Token], i: int) -> tuple[int, date, date] | None:
    """A date expression at ``i``: (tokens used, first day, day after the last)."""
    if i >= len(tokens):
        return None
    t = tokens[i]
    if t.kind == "date":
        assert isinstance(t.value, date)
        day = t.value
        return 1, day, date.fromordinal(day.toordinal() + 1)
    if t.kind == "number" and isinstance(t.value, int) and 1900 <= t.value <= 2100 and not t.unit:
        return 1, date(t.value, 1, 1), date(t.value + 1, 1, 1)
    if t.kind == "word" and t.text in MONTHS and i + 1 < len(tokens):
        year = tokens[i + 1]
        if year.kind == "number" and isinstance(year.value, int) and 1900 <= year.value <= 2100:
            month = MONTHS[t.text]
            last = calendar.monthrange(year.value, month)[1]
            end = date.fromordinal(date(year.value, month, last).toordinal() + 1)
            return 2, date(year.value, month, 1), end
    return None


def _date_range(tokens: list[Token], i: int, words: list[str]) -> tuple[int, Piece] | None:
    if words[i] in ("between", "from"):
        first = _period(tokens, i + 1)
        if first is not None:
            j = i + 1 + first[0]
            if j < len(words) and words[j] in ("and", "to", "until", "through"):
                second = _period(tokens, j + 1)
                if second is not None:
                    bounds = [(">=", first[1]), ("<", second[2])]
                    return j + 1 + second[0] - i, Piece("date", words[i : j + 1 + second[0]],
                                                        bounds)  # fmt: skip
    found = _starts(words[i:], _DATE_PREFIX)
    if found is None:
        return None
    key, how = found
    period = _period(tokens, i + len(key))
    if period is None:
        return None
    n, start, end = period
    bounds = {
        "in": [(">=", start), ("<", end)], "since": [(">=", start)], "after": [(">=", end)],
        "before": [("<", start)], "until": [("<", end)],
    }[how]  # fmt: skip
    return len(key) + n, Piece("date", words[i : i + len(key) + n], bounds)


def _number_at(tokens: list[Token], i: int) -> Token | None:
    if i < len(tokens) and tokens[i].kind == "number":
        return tokens[i]
    return None


def _comparison(tokens: list[Token], i: int, words: list[str]) -> tuple[int, Piece] | None:
    if words[i] == "between":
        low, high = _number_at(tokens, i + 1), _number_at(tokens, i + 3)
        if low and high and words[i + 2] == "and":
            unit = high.unit or low.unit
            return 4, Piece("range", words[i : i + 4], (low.value, high.value, unit, None))
        return None
    column: str | None = None
    found = _starts(words[i:], _COMPARATIVES)
    if found is not None:
        key, (column, op) = found
    else:
        found = _starts(words[i:], _COMPARATORS)
        if found is None:
            return None
        key, op = found
    number = _number_at(tokens, i + len(key))
    if number is None:
        return None
    used = len(key) + 1
    unit = number.unit
    following = words[i + used] if i + used < len(words) else ""
    if following in MONEY_WORDS:
        unit, used = "money", used + 1
    elif following in WEIGHT_WORDS:
        unit, used = "weight", used + 1
    elif following in SPOKEN_UNITS:  # "5000 grams": only a column measured in grams
        unit, used = f"u:{SPOKEN_UNITS[following]}", used + 1
    piece = Piece("compare", words[i : i + used], (op, number.value, unit, column))
    return used, piece


def _text_match(tokens: list[Token], i: int, words: list[str]) -> tuple[int, Piece] | None:
    found = _starts(words[i:], _TEXT_MATCH)
    if found is None:
        return None
    key, op = found
    j = i + len(key)
    if j < len(tokens) and tokens[j].kind == "quoted":
        return len(key) + 1, Piece("text", words[i : j + 1], (op, tokens[j].value))
    return None


def _top(tokens: list[Token], i: int, words: list[str]) -> tuple[int, Piece] | None:
    if words[i] in ("top", "bottom", "first"):
        number = _number_at(tokens, i + 1)
        descending = words[i] != "bottom"
        if number is not None and isinstance(number.value, int) and not number.unit:
            return 2, Piece("top", words[i : i + 2], (number.value, descending))
        return 1, Piece("top", words[i : i + 1], (None, descending))
    number = _number_at(tokens, i)
    if (
        number is not None
        and isinstance(number.value, int)
        and not number.unit
        and (_starts(words[i + 1 :], _SUPERLATIVES) or _starts(words[i + 1 :], _MOST))
    ):  # "the 3 most expensive products", "5 largest orders"
        return 1, Piece("top", [words[i]], (number.value, None))
    return None


def _save(tokens: list[Token], i: int, words: list[str]) -> tuple[int, Piece] | None:
    found = _starts(words[i:], _SAVE)
    if found is None or i + len(found[0]) >= len(words):
        return None
    rest = [w for w in words[i + len(found[0]) :] if w.replace("_", "").isalnum()]
    if not rest:
        return None
    return len(words) - i, Piece("save", words[i:], "_".join(rest))


_FIXED: list[tuple[str, Any]] = [
    ("count", _COUNT),
    ("distinct", _DISTINCT),
    ("group", _GROUP),
    ("sort", _SORT),
    ("direction", _DIRECTION),
    ("superlative", _SUPERLATIVES),
    ("negation", _NEGATIONS),
    ("aggregate", _AGGREGATES),
    ("most", _MOST),
    ("time", _TIME_UNITS),
    ("which", {("which",)}),
    ("versus", {("compare",), ("comparison", "of")}),
]
# One-word keywords a misspelling may stand for.
_KEYWORDS = sorted(
    {k[0] for _, table in _FIXED for k in table if len(k) == 1 and len(k[0]) >= 5}
    | {k[0] for k in _COMPARATIVES if len(k[0]) >= 5}
)  # fmt: skip


def _catalog_piece(words: list[str], vocabulary: Vocabulary) -> tuple[int, Piece] | None:
    best: tuple[int, Piece] | None = None
    rank = (0, False)
    # On a tie the earlier kind wins: a measure of the semantic layer before a column's synonym.
    for kind in ("values", "measures", "tables", "columns", "verbs"):
        match = vocabulary.match(words, kind)
        if match is not None and (match[0], match[2]) > rank:
            n, what, exact = match
            rank = (n, exact)
            data = what
            if kind == "columns":
                data = (what, tuple(words[:n]) in vocabulary.summed)
            best = n, Piece(kind.removesuffix("s"), words[:n], data)
    return best


def _corrected(word: str) -> str | None:
    """The keyword a misspelled word stands for (`avrage`), if exactly one is close."""
    if len(word) < 5 or word in FILLERS or word in _KEYWORDS:
        return None
    close = difflib.get_close_matches(word, _KEYWORDS, n=2, cutoff=0.8)
    return close[0] if len(close) == 1 else None


def pieces(tokens: list[Token], vocabulary: Vocabulary) -> tuple[list[Piece], list[str]]:
    """The pieces of a question and the words nothing read."""
    tokens = list(tokens)
    words = [t.text for t in tokens]
    out: list[Piece] = []
    unknown: list[str] = []
    i = 0
    while i < len(words):
        found = _at(tokens, i, words, vocabulary)
        if found is not None:
            n, piece = found
            out.append(piece)
            i += n
            continue
        corrected = _corrected(words[i])
        if corrected is not None:
            words[i] = corrected
            tokens[i] = Token(corrected)
            continue
        if tokens[i].kind != "word" or words[i] not in FILLERS:
            unknown.append(words[i])
        i += 1
    return out, unknown


def _at(
    tokens: list[Token], i: int, words: list[str], vocabulary: Vocabulary
) -> tuple[int, Piece] | None:
    for reader in (_save, _date_range, _comparison, _text_match, _top):
        found = reader(tokens, i, words)
        if found is not None:
            return found
    number = tokens[i]
    named = vocabulary.match(words[i + 1 :], "tables") if number.kind == "number" else None
    if (
        named is not None
        and named[2]
        and isinstance(number.value, int)
        and 0 < number.value < 1000
        and not number.unit
    ):  # "which 5 orders had the highest freight": the first 5 in an order still to come
        return 1, Piece("top", [words[i]], (number.value, None))
    column = vocabulary.match(words[i + 1 :], "columns") if number.kind == "number" else None
    if column is not None and column[2] and not number.unit:
        # "cars with 8 cylinders": a number of the column that follows
        return 1, Piece("compare", [words[i]], ("=", number.value, None, None))
    catalog = _catalog_piece(words[i:], vocabulary) if tokens[i].kind == "word" else None
    fixed: tuple[int, Piece] | None = None
    for kind, table in _FIXED:
        match = _starts(words[i:], table)
        if match is not None and (fixed is None or len(match[0]) > fixed[0]):
            fixed = len(match[0]), Piece(kind, list(match[0]), match[1])
    if catalog is not None and (fixed is None or catalog[0] > fixed[0]):
        return catalog
    if fixed is None and tokens[i].kind == "word":
        country = _starts(words[i:], COUNTRIES)
        if country is not None:  # "customers in Germany": a country column's value
            return len(country[0]), Piece("country", list(country[0]), country[1])
    return fixed


_KINDS = (
    "count", "distinct", "group", "sort", "direction", "superlative", "negation", "aggregate",
    "most", "time", "which", "versus", "value", "table", "column", "verb", "date", "compare",
    "range", "text", "top", "save", "measure", "country",
)  # fmt: skip

# Pieces to a query ---------------------------------------------------------------------------


@dataclass
class Metric:
    function: str  # count | count_distinct | sum | avg | min | max | measure
    column: ColumnRef | None = None
    table: str | None = None  # for count(*): rows of this table; a measure's table
    # A semantic layer measure: as defined (function `measure`), or sum/avg/min/max of its
    # row expression.
    measure: CatalogMeasure | None = None

    def label(self) -> str:
        if self.measure is not None:
            name = self.measure.name
            return name if self.function == "measure" else f"{self.function} of {name}"
        if self.column is None:
            return f"number of {self.table}"
        return f"{self.function} of {self.column.table}.{self.column.column}"


@dataclass
class Condition:
    column: ColumnRef | None
    op: str
    value: Any
    unit: str | None = None
    hint: str | None = None  # a column word for an implicit column ("price")
    near: str | None = None  # the table named last before it, looked at first
    from_value: bool = False  # a value hint's column: another table's like column may fit


@dataclass
class Plan:
    entity: str | None = None
    singular_entity: bool = False
    metrics: list[Metric] = field(default_factory=list)
    groups: list[ColumnRef | str] = field(default_factory=list)  # column, table, or @unit
    conditions: list[Condition] = field(default_factory=list)
    projection: list[ColumnRef] = field(default_factory=list)
    order: list[tuple[ColumnRef | Metric, bool]] = field(default_factory=list)
    limit: int | None = None
    distinct: bool = False
    compare: bool = False
    save_as: str | None = None
    tables: list[str] = field(default_factory=list)
    verbs: list[str] = field(default_factory=list)  # tables a verb speaks of ("ordered")
    understood: list[str] = field(default_factory=list)

    def touch(self, table: str) -> None:
        if table not in self.tables:
            self.tables.append(table)


def read_query(tokens: list[Token], catalog: PromptCatalog, vocabulary: Vocabulary) -> Intent:
    found, unknown = pieces(tokens, vocabulary)
    if unknown:
        return NotUnderstood(
            message=f"Not understood: {', '.join(unknown)}. See the prompt guide for what "
            "can be asked.",
            unknown=unknown,
        )
    try:
        plan = _Reader(catalog).read(found)
        from rivergen.services.planning.sql_writer import write_sql

        sql = write_sql(plan, catalog)
    except _Unreadable as exc:
        return NotUnderstood(message=exc.message, unknown=exc.unknown)
    return QueryIntent(sql=sql, tables=plan.tables, save_as=plan.save_as,
                       understood=plan.understood)  # fmt: skip


# What may follow a piece that asks for more ("average" asks for a column): anything else
# means the question is not read.
_FOLLOWERS: dict[str, frozenset[str]] = {
    "aggregate": frozenset({"column", "table", "value", "measure"}),
    "count": frozenset({"table", "column", "distinct", "value"}),
    "group": frozenset({"column", "table", "time"}),
    "sort": frozenset({"column", "count", "aggregate", "time", "measure"}),
    "rank": frozenset({"column", "table", "count", "aggregate", "value", "measure"}),
    "rank_count": frozenset({"table", "value"}),
    "rank_aggregate": frozenset({"column", "table", "measure"}),
    "superlative": frozenset({"table", "value", "column"}),
    "top": frozenset({"table", "column", "superlative", "most", "value"}),
}


class _Reader:
    """Reads pieces in order; ``mode`` is what the last piece asks of the next."""

    def __init__(self, catalog: PromptCatalog) -> None:
        self.catalog = catalog
        self.plan = Plan()
        self.mode: tuple[str, Any] | None = None
        self.which = False
        self.negate = False
        self.pending_column: ColumnRef | None = None
        self.upcoming: list[str] = []
        self.near: str | None = None
        self.top_seen = False
        self.last: Piece | None = None
        self.awaiting: Condition | None = None

    def read(self, found: list[Piece]) -> Plan:
        self.upcoming = [p.data for p in found if p.kind == "table"]
        for index, piece in enumerate(found):
            following = found[index + 1] if index + 1 < len(found) else None
            if self.mode is not None and piece.kind not in _FOLLOWERS.get(
                self.mode[0], frozenset(_KINDS)
            ):
                before = " ".join(self.last.words) if self.last else ""
                raise _Unreadable(
                    f"`{' '.join(piece.words)}` cannot follow `{before}`", piece.words
                )
            getattr(self, f"_{piece.kind}")(piece, following)
            self.last = piece
        self._check_end()
        return self.plan

    def _check_end(self) -> None:
        if self.mode is not None and self.mode[0] not in ("top", "which", "subject", "group_more"):
            raise _Unreadable(f"`{self.mode[1] if self.mode[0] == 'text' else self.mode[0]}` "
                              "is not followed by what it applies to")  # fmt: skip
        if self.negate:
            raise _Unreadable("`not` is not followed by a value it excludes")
        if self.plan.compare and not self.plan.groups:
            raise _Unreadable("Compare by what? Name a column: `compare revenue by country`.")
        if self.top_seen and not self.plan.order:
            raise _Unreadable("Top by what? `top 5 products by revenue`.")

    def _note(self, words: list[str], what: str) -> None:
        self.plan.understood.append(f"{' '.join(words)}: {what}")

    # One method per piece kind.

    def _count(self, piece: Piece, following: Piece | None) -> None:
        if self.mode is not None and self.mode[0] == "rank":
            self.mode = ("rank_count", self.mode[1])  # "top 3 customers by number of orders"
        elif self.mode is not None and self.mode[0] == "sort":
            self.mode = ("rank_count", (False, None))  # "sorted by number of orders"
        else:
            self.mode = ("count", False)

    def _distinct(self, piece: Piece, following: Piece | None) -> None:
        if self.mode is not None and self.mode[0] == "count":
            self.mode = ("count", True)
        else:
            self.plan.distinct = True

    def _aggregate(self, piece: Piece, following: Piece | None) -> None:
        if self.mode is not None and self.mode[0] in ("rank", "sort"):
            rank = self.mode[1] if self.mode[0] == "rank" else (False, None)
            self.mode = ("rank_aggregate", (piece.data, rank))
        else:
            self.mode = ("aggregate", piece.data)

    def _versus(self, piece: Piece, following: Piece | None) -> None:
        self.plan.compare = True

    def _which(self, piece: Piece, following: Piece | None) -> None:
        self.which = True
        self.mode = ("which", None)

    def _most(self, piece: Piece, following: Piece | None) -> None:
        descending = bool(piece.data)
        top = self.mode is not None and self.mode[0] == "top"
        if following is not None and following.kind == "table" and (self.mode is None or top):
            n = self.mode[1][0] if self.mode is not None else None
            self.mode = ("superlative", ("@money", descending, n))  # "the 5 largest orders"
        elif self.mode is not None and self.mode[0] in ("top", "subject"):
            n = self.mode[1][0]
            self.mode = ("rank", (descending, n or (1 if self.which else 10)))
        elif self.which:
            self.mode = ("rank", (descending, 1))
        else:
            self.mode = ("aggregate", "max" if descending else "min")

    def _group(self, piece: Piece, following: Piece | None) -> None:
        if self.mode is not None and self.mode[0] == "subject":
            n, descending = self.mode[1]
            self.mode = ("rank", (True if descending is None else descending, n or 10))
        else:
            self.mode = ("group", None)

    def _sort(self, piece: Piece, following: Piece | None) -> None:
        self.mode = ("sort", None)

    def _direction(self, piece: Piece, following: Piece | None) -> None:
        if not self.plan.order:
            raise _Unreadable(f"`{' '.join(piece.words)}`: sorted by what?", piece.words)
        key, _ = self.plan.order[-1]
        self.plan.order[-1] = (key, bool(piece.data))

    def _negation(self, piece: Piece, following: Piece | None) -> None:
        self.negate = True

    def _time(self, piece: Piece, following: Piece | None) -> None:
        self.plan.groups.append(f"@{piece.data}")
        self._note(piece.words, f"grouped by {piece.data}")
        self.mode = None

    def _top(self, piece: Piece, following: Piece | None) -> None:
        self.top_seen = True
        n, descending = piece.data
        self.mode = ("top", (n, descending))
        self.which = False

    def _superlative(self, piece: Piece, following: Piece | None) -> None:
        n = (
            self.mode[1][0]
            if self.mode is not None and self.mode[0] in ("top", "subject")
            else None
        )
        data = (piece.data[0], piece.data[1], n)
        if self.plan.entity is not None and (following is None or following.kind != "table"):
            self.mode = None  # "which product is the cheapest": of the table named before
            self._superlative_order(data, piece.words, self.plan.entity)
            return
        self.mode = ("superlative", data)

    def _save(self, piece: Piece, following: Piece | None) -> None:
        self.plan.save_as = piece.data
        self._note(piece.words, f"keep the answer as the dataset {piece.data}")

    def _text(self, piece: Piece, following: Piece | None) -> None:
        op, text = piece.data
        column = self.pending_column
        self.pending_column = None
        hint = None if column is not None else "name"
        sql_op = {"contains": "contains", "starts_with": "starts_with", "=": "="}[op]
        self.plan.conditions.append(Condition(column, sql_op, text, hint=hint, near=self.near))
        self._note(piece.words, f"{sql_op} {text!r}")

    def _date(self, piece: Piece, following: Piece | None) -> None:
        column = self._take_pending()
        for op, day in piece.data:
            self.plan.conditions.append(
                Condition(column, op, day.isoformat(), hint="@date", near=self.near)
            )
        self._note(piece.words, " and ".join(f"{op} {day.isoformat()}" for op, day in piece.data))

    def _compare(self, piece: Piece, following: Piece | None) -> None:
        op, value, unit, word = piece.data
        column = self._take_pending()
        condition = Condition(column, op, value, unit, word, self.near)
        self.plan.conditions.append(condition)
        if column is None and word is None and following is not None and following.kind == "column":
            self.awaiting = condition  # "fewer than 10 units in stock": the column follows
        self._note(piece.words, f"{op} {value}")

    def _range(self, piece: Piece, following: Piece | None) -> None:
        low, high, unit, word = piece.data
        column = self._take_pending()
        self.plan.conditions.append(Condition(column, ">=", low, unit, word, self.near))
        self.plan.conditions.append(Condition(column, "<=", high, unit, word, self.near))
        self._note(piece.words, f"between {low} and {high}")

    def _take_pending(self) -> ColumnRef | None:
        column, self.pending_column = self.pending_column, None
        if self.mode is not None and self.mode[0] == "top":
            self.mode = None
        return column

    def _value(self, piece: Piece, following: Piece | None) -> None:
        options: list[tuple[ColumnRef, str]] = piece.data
        columns = {ref for ref, _ in options}
        for table in [self.plan.entity, *self.upcoming]:
            mine = [(r, v) for r, v in options if r.table == table]
            if len(columns) > 1 and len({r for r, _ in mine}) == 1:
                options, columns = mine, {mine[0][0]}  # "customers in London": theirs
        if len(columns) > 1:
            raise _Unreadable(f"`{' '.join(piece.words)}` is a value of several columns",
                              piece.words)  # fmt: skip
        ref, value = options[0]
        self.plan.touch(ref.table)
        op = "!=" if self.negate else "="
        last = self.plan.conditions[-1] if self.plan.conditions else None
        if last is not None and last.column == ref and last.op in ("=", "in", "!=", "not in"):
            values = last.value if isinstance(last.value, list) else [last.value]
            last.value = [*values, value]
            last.op = "not in" if last.op in ("!=", "not in") else "in"
        else:
            self.plan.conditions.append(Condition(ref, op, value, from_value=True))
        self.negate = False
        self._note(piece.words, f"{ref.table}.{ref.column} {op} {value!r}")
        if self.mode is not None and self.mode[0] in ("group", "sort"):
            raise _Unreadable(f"`{' '.join(piece.words)}` is a value, not a column to group "
                              "or sort by", piece.words)  # fmt: skip

    def _country(self, piece: Piece, following: Piece | None) -> None:
        if self.mode is not None:
            raise _Unreadable(f"`{' '.join(piece.words)}` cannot follow `{self.mode[0]}`",
                              piece.words)  # fmt: skip
        op = "not in_ci" if self.negate else "in_ci"
        self.negate = False
        self.plan.conditions.append(
            Condition(self.pending_column, op, list(piece.data), hint="@country", near=self.near)
        )
        self.pending_column = None
        self._note(piece.words, f"a country: {' or '.join(piece.data)} (any case)")

    def _verb(self, piece: Piece, following: Piece | None) -> None:
        self.plan.touch(piece.data)
        self.plan.verbs.append(piece.data)
        self.near = piece.data
        self._note(piece.words, f"rows of {piece.data}")

    def _table(self, piece: Piece, following: Piece | None) -> None:
        table: str = piece.data
        singular_word = piece.words[-1] == singular(piece.words[-1])
        if (
            following is not None
            and following.kind == "table"
            and following.data != table
            and singular_word
        ):  # "product categories": the last noun is the thing; the first only describes it
            self._note(piece.words, f"describes {following.data} (not read as a table)")
            return
        self.plan.touch(table)
        mode, data = self.mode or (None, None)
        self.mode = None
        if mode == "count":
            self.plan.metrics.append(Metric("count", table=table))
            self._note(piece.words, f"count the rows of {table}")
            if self.plan.entity is None:
                self.plan.entity = table
        elif mode == "group":
            self._group_by_table(table, piece.words)
        elif mode in ("rank", "rank_count"):
            self._rank(Metric("count", table=table), data, piece.words)
        elif mode == "superlative":
            self._set_entity(table, singular_word)
            self._superlative_order(data, piece.words, table)
        elif mode == "top":
            self._set_entity(table, singular_word)
            self.mode = ("subject", data)
        elif mode == "aggregate":
            self.mode = (mode, data)  # "average order amount": the table names the column's
            self._set_entity(table, singular_word)
        else:
            self._set_entity(table, singular_word)
            if mode == "which":
                self.mode = ("subject", (1, None))

    def _group_by_table(self, table: str, words: list[str]) -> None:
        metrics = self.plan.metrics
        averaged = [m for m in metrics if m.column is not None and m.function == "avg"]
        if metrics and len(averaged) == len(metrics):
            if all(m.column is not None and m.column.table == table for m in averaged):
                # "average freight per order": the average over the rows of orders
                self._note(words, f"over the rows of {table} (an average of each row)")
                return
            if any(m.column is not None and _lines_of(m.column.table, table) for m in averaged):
                # "average quantity per order" over order lines: of a line, or of an order?
                raise _Unreadable(
                    f"`{' '.join(words)}`: the average of each line, or of each "
                    f"{singular(table)}'s total? Ask `average ... of ...` or `total ... by ...`.",
                    words,
                )
        self.plan.groups.append(table)
        self._note(words, f"grouped by each of {table}")

    def _set_entity(self, table: str, singular_word: bool) -> None:
        if self.plan.entity is None:
            self.plan.entity = table
            self.plan.singular_entity = singular_word

    def _column(self, piece: Piece, following: Piece | None) -> None:
        refs, summed = piece.data
        ref = self._pick(refs, piece.words)
        self.plan.touch(ref.table)
        if (
            self.last is not None
            and self.last.kind == "value"
            and self.mode is None
            and any(r == ref for r, _ in self.last.data)
        ):
            return  # "in the Toys category": the column of the value just read
        awaiting, self.awaiting = self.awaiting, None
        if awaiting is not None and is_numeric(ref):
            awaiting.column = ref
            self._note(piece.words, f"the column {ref.table}.{ref.column} of the comparison")
            return
        mode, data = self.mode or (None, None)
        if self._yes_no_filter(ref, mode, piece, following):
            return
        # "by category and country": a group goes on while columns follow.
        self.mode = ("group_more", None) if mode in ("group", "group_more") else None
        if mode is None and following is not None and _fits(ref, following.kind):
            self.pending_column = ref
            return
        readers: dict[str, Callable[[ColumnRef, Any, list[str], bool], None]] = {
            "aggregate": self._column_aggregate, "count": self._column_count,
            "group": self._column_group, "group_more": self._column_group,
            "sort": self._column_sort, "rank": self._column_rank,
            "top": self._column_subject, "rank_aggregate": self._column_rank_aggregate,
            "which": self._column_subject, "superlative": self._column_superlative,
        }  # fmt: skip
        reader = readers.get(mode or "")
        if reader is not None:
            reader(ref, data, piece.words, summed)
        elif summed:
            self.plan.metrics.append(Metric("sum", ref))
            self._note(piece.words, f"sum of {ref.table}.{ref.column}")
        else:
            self.plan.projection.append(ref)
            self._note(piece.words, f"the column {ref.table}.{ref.column}")

    def _measure(self, piece: Piece, following: Piece | None) -> None:
        """A measure of the semantic layer: `total revenue`, `revenue by country`, `top 5
        products by revenue`, `average revenue` (of its row expression)."""
        measure: CatalogMeasure = piece.data
        self.plan.touch(measure.table)
        mode: str | None = self.mode[0] if self.mode is not None else None
        data: Any = self.mode[1] if self.mode is not None else None
        self.mode = None
        if mode == "aggregate":
            metric = _measure_metric(measure, data, piece.words)
            self.plan.metrics.append(metric)
            self._note(piece.words, f"the measure {metric.label()}")
        elif mode == "rank":
            self._rank(_measure_metric(measure, "sum", piece.words), data, piece.words)
        elif mode == "sort":
            self._rank(_measure_metric(measure, "sum", piece.words), (False, None), piece.words)
        elif mode == "rank_aggregate":
            function, rank = data
            self._rank(_measure_metric(measure, function, piece.words), rank, piece.words)
        elif mode in (None, "group_more"):
            metric = _measure_metric(measure, "sum", piece.words)
            self.plan.metrics.append(metric)
            self._note(piece.words, f"the measure {metric.label()}")
        else:
            raise _Unreadable(
                f"`{' '.join(piece.words)}` (a measure) cannot follow `{mode}`", piece.words
            )

    def _yes_no_filter(
        self, ref: ColumnRef, mode: str | None, piece: Piece, following: Piece | None
    ) -> bool:
        """A yes/no column said of rows ("the discontinued products", "products that are not
        discontinued"): a filter, not a column to show."""
        literals = yes_no_literals(self.catalog, ref)
        if literals is None or mode in ("group", "group_more", "sort"):
            return False
        before_table = following is not None and following.kind == "table"
        after_entity = (
            mode is None
            and self.plan.entity == ref.table
            and (following is None or following.kind not in ("compare", "range", "date", "text"))
        )
        if not (before_table or after_entity):
            return False
        op = "no" if self.negate else "yes"
        self.negate = False
        self.plan.conditions.append(Condition(ref, op, literals))
        said = "not " if op == "no" else ""
        self._note(piece.words, f"a yes/no column: {said}{ref.table}.{ref.column}")
        return True

    def _pick(self, refs: list[ColumnRef], words: list[str]) -> ColumnRef:
        if len(refs) == 1:
            return refs[0]
        for table in [self.plan.entity, *self.upcoming, *self.plan.tables]:
            mine = [r for r in refs if r.table == table]
            if len(mine) == 1:
                return mine[0]
        others = [t for t in [self.plan.entity, *self.upcoming] if t is not None]
        if others:
            # "average unit price per category": the unit price of the table with a category
            linked = [r for r in refs if all(_refers(self.catalog, r.table, t) for t in others)]
            if len(linked) == 1:
                return linked[0]
        raise _Unreadable(
            f"`{' '.join(words)}` is a column of several tables: "
            + ", ".join(f"{r.table}.{r.column}" for r in refs),
            words,
        )

    def _column_aggregate(self, ref: ColumnRef, function: str, words: list[str], _: bool) -> None:
        if function in ("sum", "avg") and not is_numeric(ref):
            raise _Unreadable(f"{function} of {ref.column}: it is not a number", words)
        self.plan.metrics.append(Metric(function, ref))
        self._note(words, f"{function} of {ref.table}.{ref.column}")

    def _column_count(self, ref: ColumnRef, distinct: bool, words: list[str], _: bool) -> None:
        if not distinct and is_numeric(ref) and name_parts(ref.column)[-1:] != ["id"]:
            # "how many prices are there": the prices recorded, not the different ones
            self.plan.metrics.append(Metric("count", ref))
            self._note(words, f"count the values of {ref.table}.{ref.column}")
            return
        self.plan.metrics.append(Metric("count_distinct", ref))
        self._note(words, f"count distinct {ref.table}.{ref.column}")

    def _column_group(self, ref: ColumnRef, _: Any, words: list[str], __: bool) -> None:
        self.plan.groups.append(ref)
        self._note(words, f"grouped by {ref.table}.{ref.column}")

    def _column_sort(self, ref: ColumnRef, _: Any, words: list[str], summed: bool) -> None:
        if summed:  # "sorted by revenue"
            self._rank(Metric("sum", ref), (False, None), words)
            return
        self.plan.order.append((ref, False))
        self._note(words, f"sorted by {ref.table}.{ref.column}")

    def _column_subject(self, ref: ColumnRef, data: Any, words: list[str], summed: bool) -> None:
        if summed:  # "top 5 revenue"? a measure is not a subject
            raise _Unreadable(f"`{' '.join(words)}`: top what?", words)
        self.plan.groups.append(ref)
        self._note(words, f"each {ref.table}.{ref.column}")
        self.mode = ("subject", data or (None, None))

    def _column_rank(self, ref: ColumnRef, data: Any, words: list[str], summed: bool) -> None:
        entity = self.plan.entity
        if not self.plan.groups and entity == ref.table and not summed:
            descending, n = self._rank_args(data)
            self.plan.order.append((ref, descending))
            self.plan.limit = n
            self._note(words, f"ordered by {ref.column}, {'highest' if descending else 'lowest'}")
            return
        if not summed and not self.plan.metrics:
            raise _Unreadable(f"`{' '.join(words)}`: the total, the average or the maximum?",
                              words)  # fmt: skip
        self._rank(Metric("sum", ref) if summed else self.plan.metrics[-1], data, words)

    def _column_rank_aggregate(self, ref: ColumnRef, data: Any, words: list[str], _: bool) -> None:
        function, rank = data
        if function in ("sum", "avg") and not is_numeric(ref):
            raise _Unreadable(f"{function} of {ref.column}: it is not a number", words)
        self._rank(Metric(function, ref), rank, words)

    def _rank_args(self, data: Any) -> tuple[bool, int | None]:
        descending, n = data
        return bool(descending), (None if n is None else int(n))

    def _rank(self, metric: Metric, data: Any, words: list[str]) -> None:
        """Order by a metric (and keep the first ``n`` when ``data`` gives one)."""
        if metric in self.plan.metrics:
            metric = self.plan.metrics[self.plan.metrics.index(metric)]
        else:
            self.plan.metrics.append(metric)
        descending, n = self._rank_args(data)
        if self.plan.entity is not None and not self.plan.groups:
            self.plan.groups.append(self.plan.entity)
        self.plan.order.append((metric, descending))
        if n is not None:
            self.plan.limit = n
        kept = f", {n} kept" if n is not None else ""
        self._note(words, f"ordered by {metric.label()}, "
                          f"{'highest' if descending else 'lowest'} first{kept}")  # fmt: skip

    def _column_superlative(self, ref: ColumnRef, data: Any, words: list[str], _: bool) -> None:
        _, descending, n = data
        if n is None and self.plan.entity is None and is_numeric(ref):
            # "the coldest minimum temperature": its lowest value
            self._column_aggregate(ref, "max" if descending else "min", words, False)
            return
        raise _Unreadable(f"`{' '.join(words)}` after a superlative: of what?", words)

    def _superlative_order(self, data: Any, words: list[str], table: str) -> None:
        word, descending, *rest = data
        n = rest[0] if rest else None
        ref = _implicit_column(self.catalog, table, word)
        if ref is None:
            raise _Unreadable(f"`{' '.join(words)}`: {table} has no such column", words)
        self.plan.order.append((ref, descending))
        self.plan.limit = n if n is not None else (1 if self.plan.singular_entity else None)
        self._note(words, f"ordered by {ref.column}, {'highest' if descending else 'lowest'}")


def _measure_metric(measure: CatalogMeasure, function: str, words: list[str]) -> Metric:
    """The measure as defined (`total revenue`: a sum is the measure itself), or ``function``
    over its row expression (`average revenue`)."""
    if function == "sum" or function == measure.aggregation:
        return Metric("measure", table=measure.table, measure=measure)
    if function in ("avg", "min", "max") and measure.aggregation in ("sum", "avg", "min", "max"):
        return Metric(function, table=measure.table, measure=measure)
    raise _Unreadable(
        f"{function} of {measure.name}: the measure is a {measure.aggregation} already", words
    )


def unit_fits(unit: str | None, ref: ColumnRef) -> bool:
    """Whether a number said in ``unit`` may be compared with ``ref`` as it is: a column named
    in another unit (`body_mass_g` against kilograms) may not."""
    said = set(name_parts(ref.column)) & UNIT_WORDS
    if unit == "weight":
        return not said or said == {"kg"}
    if unit is not None and unit.startswith("u:"):
        return said == {unit[2:]}
    return True


def _lines_of(table: str, other: str) -> bool:
    """Whether ``table`` names the lines of ``other`` (`order_items` of `orders`)."""
    words = [w for w in re.split(r"[\s_\-]+", table.lower()) if w]
    own = singular(other.lower().replace("-", " ").split()[-1])
    return len(words) > 1 and singular(words[-1]) in LINE_WORDS and singular(words[0]) == own


def _refers(catalog: PromptCatalog, table: str, other: str) -> bool:
    """Whether ``table`` has a declared key to ``other`` or a column named like its id."""
    if any(k.table == table and k.ref_table == other for k in catalog.keys):
        return True
    found, target = catalog.table(table), catalog.table(other)
    if found is None or target is None:
        return False
    wanted = [singular(other.lower().replace("-", " ").split()[-1]), "id"]
    mine = {c.name for c in found.columns}
    return any(c.name in mine and name_parts(c.name) == wanted for c in target.columns)


_YES = ("yes", "y", "true", "t")
_NO = ("no", "n", "false", "f")
_YES_NO_HEADS = ("is", "has", "was", "can", "did", "in")


def yes_no_literals(catalog: PromptCatalog, ref: ColumnRef) -> tuple[str, str] | None:
    """(the SQL of `yes`, the SQL of `no`) for a yes/no column: a boolean, a text column whose
    declared values are yes/no or true/false, or an integer column named like a flag
    (`discontinued`, `is_active`, `hasChildren`); None for any other column."""
    table = catalog.table(ref.table)
    column = next((c for c in table.columns if c.name == ref.column), None) if table else None
    if column is None:
        return None
    kind = column.type.lower()
    if kind in ("bool", "boolean"):
        return "= TRUE", "= FALSE"
    if column.values:
        yes = [v for v in column.values if v.strip().lower() in _YES]
        no = [v for v in column.values if v.strip().lower() in _NO]
        others = [v for v in column.values if v not in yes and v not in no]
        if len(yes) == 1 and len(no) == 1 and not others:
            return f"= '{yes[0]}'", f"= '{no[0]}'"
        return None
    parts = name_parts(column.name)
    flag_name = (len(parts) == 1 and parts[0].endswith("ed") and len(parts[0]) > 5) or (
        len(parts) > 1 and parts[0] in _YES_NO_HEADS
    )
    if kind.startswith(("int", "uint")) and flag_name:
        return "<> 0", "= 0"
    return None


def _fits(ref: ColumnRef, kind: str) -> bool:
    """Whether a condition piece applies to the column named just before it."""
    if kind == "date":
        return is_temporal(ref)
    if kind in ("compare", "range"):
        return is_numeric(ref)
    return kind == "text" and not is_numeric(ref) and not is_temporal(ref)


def _implicit_column(catalog: PromptCatalog, table: str, word: str | None) -> ColumnRef | None:
    """The column of ``table`` a word, a unit or a superlative speaks of: `@money`, `@date`,
    `@weight`, or a column word such as `price`."""
    found = catalog.table(table)
    if found is None or word is None:
        return None
    return _implicit_in(found, word)


_MONEY_NAMES = ("amount", "price", "total", "revenue", "cost", "value")


def _implicit_in(table: CatalogTable, word: str) -> ColumnRef | None:
    refs = [ColumnRef(table.name, c.name, c.type) for c in table.columns]
    if word in ("@money", "money"):
        found = [r for r in refs if is_numeric(r) and r.column.split("_")[0] in _MONEY_NAMES]
    elif word == "@age":  # "the oldest employee": the earliest birth date, else the @date
        born = [r for r in refs if is_temporal(r) and {"birth", "born"} & set(name_parts(r.column))]
        return born[0] if len(born) == 1 else _implicit_in(table, "@date")
    elif word == "@date":
        found = [r for r in refs if is_temporal(r)]
        if len(found) > 1:
            # `orders` with orderDate, requiredDate, shippedDate: the date of the order itself
            own = singular(table.name.lower().replace("-", " ").split()[-1])
            found = [r for r in found if own in name_parts(r.column)] or [
                r for r in found if name_parts(r.column) == ["date"]
            ]
    elif word in ("@weight", "weight"):
        found = [
            r for r in refs
            if is_numeric(r) and {"weight", "kg", "mass"} & set(name_parts(r.column))
        ]  # fmt: skip
    elif word == "@country":
        found = [r for r in refs if not is_numeric(r) and "country" in name_parts(r.column)]
    elif word.startswith("@unit:"):
        found = [r for r in refs if is_numeric(r) and word[6:] in name_parts(r.column)]
    else:
        found = [r for r in refs if word in name_parts(r.column)]
    return found[0] if len(found) == 1 else None
