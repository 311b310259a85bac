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
from typing import Any, TypeVar

from rivergen.engine.spec import type_class
from rivergen.services.planning.catalog import (
    CatalogColumn,
    CatalogMeasure,
    CatalogTable,
    PromptCatalog,
)
from rivergen.services.planning.intents import NotUnderstood
from rivergen.services.planning.lexicon import (
    ABBREVIATIONS,
    AVERAGED_WORDS,
    COMMON_WORDS,
    CONVERSIONS,
    CONVERTED_UNITS,
    COUNTRIES,
    LEVEL_WORDS,
    LIGHT_FORMS,
    LINE_WORDS,
    MONEY_WORDS,
    MONTHS,
    NUMBER_WORDS,
    PLACES,
    SPELLED_VALUES,
    SPOKEN_UNITS,
    UNIT_WORDS,
    US_STATES,
    WEIGHT_WORDS,
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
from rivergen.services.planning.spelling import Speller

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
_COUNT = {
    ("how", "many"): False,
    ("number", "of"): False,
    ("count", "of"): False,
    ("count",): False,
    ("total", "number", "of"): False,
    ("amount", "of"): False,
}
_DISTINCT = {("distinct",), ("unique",), ("different",)}
_AGGREGATES = {
    ("total",): "sum",
    ("sum", "of"): "sum",
    ("sum",): "sum",
    ("overall",): "sum",
    ("average",): "avg",
    ("avg",): "avg",
    ("mean",): "avg",
    ("typical",): "avg",
    ("minimum",): "min",
    ("min",): "min",
    ("maximum",): "max",
    ("max",): "max",
    ("median",): "median",
}
_MOST = {
    ("highest",): True,
    ("largest",): True,
    ("biggest",): True,
    ("most",): True,
    ("greatest",): True,
    ("lowest",): False,
    ("smallest",): False,
    ("least",): False,
    ("fewest",): False,
}
_GROUP = {
    ("by",),
    ("per",),
    ("for", "each"),
    ("for", "every"),
    ("in", "each"),
    ("across",),
    ("grouped", "by"),
    ("broken", "down", "by"),
    ("split", "by"),
    ("each",),
}
_SORT = {
    ("sorted", "by"),
    ("ordered", "by"),
    ("order", "by"),
    ("sort", "by"),
    ("ranked", "by"),
    ("sorted", "on"),
}
_DIRECTION = {
    ("ascending",): False,
    ("asc",): False,
    ("descending",): True,
    ("desc",): True,
    ("highest", "first"): True,
    ("lowest", "first"): False,
    ("largest", "first"): True,
    ("smallest", "first"): False,
    ("in", "descending", "order"): True,
    ("in", "ascending", "order"): False,
    ("from", "highest", "to", "lowest"): True,
    ("from", "lowest", "to", "highest"): False,
    ("highest", "to", "lowest"): True,
    ("lowest", "to", "highest"): False,
    ("from", "high", "to", "low"): True,
    ("from", "low", "to", "high"): False,
    ("high", "to", "low"): True,
    ("low", "to", "high"): False,
    ("from", "largest", "to", "smallest"): True,
    ("from", "smallest", "to", "largest"): False,
}
_FIRSTS = {
    ("heaviest",): True,
    ("lightest",): False,
    ("longest",): True,
    ("shortest",): False,
    ("cheapest",): False,
    ("newest",): True,
    ("oldest",): False,
    ("latest",): True,
    ("earliest",): False,
    ("biggest",): True,
    ("most", "expensive"): True,
    ("least", "expensive"): False,
}
_DIRECTION |= {(*key, "first"): descending for key, descending in _FIRSTS.items()}
_COMPARATORS = {
    ("more", "than"): ">",
    ("greater", "than"): ">",
    ("over",): ">",
    ("above",): ">",
    ("exceeding",): ">",
    ("exceeds",): ">",
    (">",): ">",
    ("at", "least"): ">=",
    ("no", "less", "than"): ">=",
    (">=",): ">=",
    ("or", "more"): ">=",
    ("less", "than"): "<",
    ("fewer", "than"): "<",
    ("under",): "<",
    ("below",): "<",
    ("<",): "<",
    ("at", "most"): "<=",
    ("no", "more", "than"): "<=",
    ("up", "to"): "<=",
    ("<=",): "<=",
    ("equal", "to"): "=",
    ("equals",): "=",
    ("exactly",): "=",
    ("=",): "=",
    ("!=",): "!=",
    ("<>",): "!=",
    ("is",): "=",
    ("of",): "=",
}
# "what percentage of products are discontinued": the share of rows (or of a measure's total)
# that a condition keeps.
_SHARE = {
    (word, *rest)
    for word in ("percentage", "percent", "share", "fraction", "proportion")
    for rest in ((), ("of",), ("of", "all"))
}
# Said after a number: "100 or more", "5 and under".
_OR_MORE = {
    ("or", "more"): ">=",
    ("or", "above"): ">=",
    ("or", "greater"): ">=",
    ("or", "higher"): ">=",
    ("and", "above"): ">=",
    ("and", "over"): ">=",
    ("or", "over"): ">=",
    ("or", "less"): "<=",
    ("or", "fewer"): "<=",
    ("or", "below"): "<=",
    ("or", "lower"): "<=",
    ("and", "below"): "<=",
    ("and", "under"): "<=",
    ("or", "under"): "<=",
}
# Comparative adjectives: (the column word they speak of, the operator).
_COMPARATIVES = {
    ("more", "expensive", "than"): ("price", ">"),
    ("pricier", "than"): ("price", ">"),
    ("cheaper", "than"): ("price", "<"),
    ("less", "expensive", "than"): ("price", "<"),
    ("heavier", "than"): ("weight", ">"),
    ("lighter", "than"): ("weight", "<"),
    ("weigh", "more", "than"): ("weight", ">"),
    ("weigh", "less", "than"): ("weight", "<"),
    ("weigh", "over"): ("weight", ">"),
    ("weigh", "under"): ("weight", "<"),
    ("weighs", "more", "than"): ("weight", ">"),
    ("weighs", "less", "than"): ("weight", "<"),
    ("longer", "than"): ("length", ">"),
    ("shorter", "than"): ("length", "<"),
}
# "the ratio of A to B", "the difference between A and B": (the words joining A and B, op).
_ARITHMETIC_HEADS = {
    ("ratio", "of"): (("to", "and"), "/"),
    ("difference", "between"): (("and",), "-"),
}
# "A minus B", "A divided by B".
_ARITHMETIC_INFIXES = {
    ("minus",): "-",
    ("plus",): "+",
    ("divided", "by"): "/",
    ("times",): "*",
    ("multiplied", "by"): "*",
}


# Compass points: the coordinate they go along, and whether they go up it ("north": a
# higher latitude, "west": a lower longitude).
_COMPASS = {
    "north": ("latitude", True),
    "south": ("latitude", False),
    "east": ("longitude", True),
    "west": ("longitude", False),
}
# "north of 60", "west of longitude -120": a coordinate above or below.
_COMPARATIVES |= {
    (point, "of"): (axis, ">" if up else "<") for point, (axis, up) in _COMPASS.items()
}
_SUPERLATIVES = {
    ("most", "expensive"): ("price", True),
    ("priciest",): ("price", True),
    ("cheapest",): ("price", False),
    ("least", "expensive"): ("price", False),
    ("heaviest",): ("weight", True),
    ("lightest",): ("weight", False),
    ("longest",): ("length", True),
    ("shortest",): ("length", False),
    ("hottest",): ("temp", True),
    ("warmest",): ("temp", True),
    ("coldest",): ("temp", False),
    ("newest",): ("@date", True),
    ("latest",): ("@date", True),
    ("most", "recent"): ("@date", True),
    ("most", "recently"): ("@date", True),
    ("least", "recently"): ("@date", False),
    ("oldest",): ("@age", False),
    ("earliest",): ("@date", False),
    ("youngest",): ("@age", True),
}
# "the northernmost airport", "the station furthest west": the extreme of the coordinate.
_SUPERLATIVES |= {
    key: axis
    for point, axis in _COMPASS.items()
    for key in [
        (f"{point}ernmost",),
        ("most", f"{point}erly"),
        *((far, point) for far in ("furthest", "farthest")),
    ]
}
_NEGATIONS = {
    ("not",),
    ("except",),
    ("excluding",),
    ("other", "than"),
    ("outside",),
    ("but", "not"),
    ("not", "in"),
    ("except", "for"),
}
_TIME_UNITS = {
    ("year",): "year",
    ("years",): "year",
    ("yearly",): "year",
    ("annual",): "year",
    ("month",): "month",
    ("months",): "month",
    ("monthly",): "month",
    ("quarter",): "quarter",
    ("quarters",): "quarter",
    ("quarterly",): "quarter",
}
_DATE_PREFIX = {
    ("in",): "in",
    ("during",): "in",
    ("for",): "in",
    ("of",): "in",
    ("since",): "since",
    ("from",): "in",
    ("starting",): "since",
    ("after",): "after",
    ("before",): "before",
    ("prior", "to"): "before",
    ("until",): "until",
    ("through",): "until",
    ("on",): "in",
}
_TEXT_MATCH = {
    ("containing",): "contains",
    ("contains",): "contains",
    ("like",): "contains",
    ("including",): "contains",
    ("starting", "with"): "starts_with",
    ("starts", "with"): "starts_with",
    ("beginning", "with"): "starts_with",
    ("named",): "=",
    ("called",): "=",
}
_SAVE = {
    ("save", "as"),
    ("and", "save", "as"),
    ("save", "it", "as"),
    ("and", "save", "it", "as"),
    ("store", "as"),
    ("keep", "as"),
    ("save", "the", "answer", "as"),
}


@dataclass
class Piece:
    kind: str
    words: list[str]
    data: Any = None
    at: int = -1  # the index of its first word in the question (-1: not said)
    held: bool = False  # said after `have` ("customers who have placed an order")

    def next_to(self, other: Piece) -> bool:
        """Whether ``other`` follows this piece with no word between."""
        return self.at >= 0 and other.at == self.at + len(self.words)


class Unreadable(Exception):
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


def _is_year(token: Token) -> bool:
    return (
        token.kind == "number"
        and isinstance(token.value, int)
        and 1900 <= token.value <= 2100
        and not token.unit
    )


# "in the last 30 days", "the latest month of the data": relative to the data's latest date.
_RECENT_HEADS = {
    ("in", "the", "last"),
    ("in", "the", "past"),
    ("over", "the", "last"),
    ("over", "the", "past"),
    ("during", "the", "last"),
    ("within", "the", "last"),
    ("in", "the", "latest"),
    ("in", "the", "most", "recent"),
    ("the", "last"),
    ("the", "latest"),
    ("the", "most", "recent"),
    ("during", "the", "latest"),
    ("from", "the", "latest"),
    ("from", "the", "most", "recent"),
}
_RECENT_UNITS = {
    "day": "day",
    "days": "day",
    "week": "week",
    "weeks": "week",
    "month": "month",
    "months": "month",
    "year": "year",
    "years": "year",
}


def _relative(tokens: list[Token], i: int, words: list[str]) -> tuple[int, Piece] | None:
    """`in the last 30 days`: after the latest date less 30 days; `in the latest month`: in
    the calendar month (or year) of the latest date."""
    found = _starts(words[i:], _RECENT_HEADS)
    if found is None:
        return None
    j = i + len(found[0])
    number = _number_at(tokens, j)
    n = number.value if number is not None and isinstance(number.value, int) else None
    if number is not None and (n is None or n <= 0 or number.unit):
        return None
    j += number is not None
    unit = _RECENT_UNITS.get(words[j]) if j < len(words) else None
    if unit is None or (n is None and unit not in ("month", "year")):
        return None
    how = ("within", n, unit) if n is not None else ("latest", 1, unit)
    return j + 1 - i, Piece("date", words[i : j + 1], [("recent", how)])


def _day_of(month: int, day: Token, year: Token) -> date | None:
    if not _is_year(year) or day.kind != "number" or not isinstance(day.value, int):
        return None
    try:
        return date(int(str(year.value)), month, day.value)
    except ValueError:
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
    if t.kind == "word" and t.text in MONTHS and i + 2 < len(tokens):
        found = _day_of(MONTHS[t.text], tokens[i + 1], tokens[i + 2])
        if found is not None:  # "December 25, 2014", "Jan 1 2005": that day
            return 3, found, date.fromordinal(found.toordinal() + 1)
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
                    return j + 1 + second[0] - i, Piece(
                        "date", words[i : j + 1 + second[0]], bounds
                    )
    found = _starts(words[i:], _DATE_PREFIX)
    if found is None:
        return None
    key, how = found
    period = _period(tokens, i + len(key))
    month = words[i + len(key)] if i + len(key) < len(words) else ""
    if period is None and how == "in" and month in MONTHS and len(month) > 3:
        # "in July": that month of every year
        return len(key) + 1, Piece("date", words[i : i + len(key) + 1], [("month", MONTHS[month])])
    if period is None:
        return None
    n, start, end = period
    bounds = {
        "in": [(">=", start), ("<", end)],
        "since": [(">=", start)],
        "after": [(">=", end)],
        "before": [("<", start)],
        "until": [("<", end)],
    }[how]
    return len(key) + n, Piece("date", words[i : i + len(key) + n], bounds)


def _number_at(tokens: list[Token], i: int) -> Token | None:
    if i < len(tokens) and tokens[i].kind == "number":
        return tokens[i]
    return None


def _comparison_head(
    tokens: list[Token], i: int, words: list[str]
) -> tuple[tuple[str, ...], str, str | None] | None:
    """The words before a compared number, its operator, and the column word they imply:
    `cheaper than` (<, price), `over` (>), or nothing before "100 or more"."""
    found = _starts(words[i:], _COMPARATIVES)
    if found is not None:
        return found[0], found[1][1], found[1][0]
    found = _starts(words[i:], _COMPARATORS)
    if found is not None:
        return found[0], found[1], None
    if _number_at(tokens, i) and _starts(words[i + 1 :], _OR_MORE):
        return (), "=", None
    return None


def _comparison(tokens: list[Token], i: int, words: list[str]) -> tuple[int, Piece] | None:
    if words[i] == "between":
        low, high = _number_at(tokens, i + 1), _number_at(tokens, i + 3)
        if low and high and words[i + 2] == "and":
            unit = high.unit or low.unit
            said = words[i + 4] if i + 4 < len(words) else ""
            if unit is None and said in SPOKEN_UNITS:  # "between 3000 and 4000 grams"
                unit = f"u:{SPOKEN_UNITS[said]}"
                return 5, Piece("range", words[i : i + 5], (low.value, high.value, unit, None))
            return 4, Piece("range", words[i : i + 4], (low.value, high.value, unit, None))
        return None
    head = _comparison_head(tokens, i, words)
    if head is None:
        return None
    key, op, column = head
    named = int(column is not None and i + len(key) < len(words) and words[i + len(key)] == column)
    number = _number_at(tokens, i + len(key) + named)  # "north of latitude 60": its word too
    if number is None:
        return _compared_with_aggregate(words, i, key, op, column)
    used = len(key) + named + 1
    bound = _starts(words[i + used :], _OR_MORE) if op == "=" else None
    if bound is not None:  # "a quantity of 100 or more", "5 or fewer"
        op, used = bound[1], used + len(bound[0])
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


@dataclass(frozen=True)
class OfAll:
    """A value compared with the aggregate of its own column over all the table's rows: "more
    than the average"."""

    function: str  # avg | median

    def __str__(self) -> str:
        return f"the {'average' if self.function == 'avg' else self.function} of every row"


_OF_ALL = {"average": "avg", "mean": "avg", "median": "median"}


def _compared_with_aggregate(
    words: list[str], i: int, key: tuple[str, ...], op: str, column: str | None
) -> tuple[int, Piece] | None:
    """`weigh more than the average`, `above average`, `less than the median`: the column
    (said before, after, or by the comparative) against its aggregate over every row."""
    if op not in (">", "<", ">=", "<="):
        return None
    j = i + len(key)
    j += j < len(words) and words[j] in ("the", "its", "their")
    if j >= len(words) or words[j] not in _OF_ALL:
        return None
    piece = Piece("compare", words[i : j + 1], (op, OfAll(_OF_ALL[words[j]]), None, column))
    return j + 1 - i, piece


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
    if words[i] == "last" and i == len(words) - 1:  # "which orders were shipped last"
        return 1, Piece("top", ["last"], (None, False))
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
        and (
            _starts(words[i + 1 :], _SUPERLATIVES)
            or _starts(words[i + 1 :], _MOST)
            or (i + 1 < len(words) and words[i + 1].endswith("iest"))
        )
    ):  # "the 3 most expensive products", "5 largest orders"
        return 1, Piece("top", [words[i]], (number.value, None))
    return None


# "no recorded sex", "no body mass recorded", "a missing weight": the column is empty (NULL).
_RECORDED = frozenset({"recorded", "known", "measured", "given", "entered", "value", "values"})


def _missing(words: list[str], i: int, vocabulary: Vocabulary) -> tuple[int, Piece] | None:
    if words[i] not in ("no", "missing"):
        return None
    j = i + 1
    said_before = j < len(words) and words[j] in _RECORDED
    j += said_before
    column = vocabulary.match(words[j:], "columns")
    if column is None or not column[2]:
        return None
    end = j + column[0]
    said_after = end < len(words) and words[end] in _RECORDED
    if not (said_before or said_after or words[i] == "missing"):
        return None  # "no precipitation": none recorded, or a recorded zero? not guessed
    end += said_after
    return end - i, Piece("missing", words[i:end], column[1])


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
    ("day", {("day",), ("days",)}),
    ("bound", _OR_MORE),
    ("share", _SHARE),
    ("yet", {("yet",)}),
    ("how_much", {("how", "much")}),
    ("on_average", {("on", "average"), ("on", "avg")}),
    (
        "common",
        {
            ("most", "common"): True,
            ("most", "frequent"): True,
            ("commonest",): True,
            ("least", "common"): False,
            ("least", "frequent"): False,
            ("rarest",): False,
        },
    ),
    ("convert", {("in", word) for word in CONVERTED_UNITS}),
    (
        "alphabetical",
        {
            ("in", "alphabetical", "order"),
            ("alphabetically",),
            ("in", "alphabetic", "order"),
            ("from", "a", "to", "z"),
        },
    ),
    ("versus", {("compare",), ("comparison", "of")}),
    ("in_total", {("in", "total"), ("all", "told")}),
    ("when", {("when",)}),
]
# One-word keywords a misspelling may stand for.
_KEYWORDS = sorted(
    {k[0] for _, table in _FIXED for k in table if len(k) == 1 and len(k[0]) >= 5}
    | {k[0] for k in _COMPARATIVES if len(k[0]) >= 5}
)


def _catalog_piece(words: list[str], vocabulary: Vocabulary) -> tuple[int, Piece] | None:
    best: tuple[int, Piece] | None = None
    rank = (0, False)
    # On a tie the earlier kind wins: a measure of the semantic layer before a column's synonym.
    for kind in ("values", "measures", "tables", "columns", "verbs"):
        match = vocabulary.match(words, kind)
        if kind == "values" and match is not None and match[0] == 1 and words[0] in FILLERS:
            continue  # "with a missing weight": the article, not the blood type A
        if match is not None and (match[0], match[2]) > rank:
            n, what, exact = match
            rank = (n, exact)
            data = what
            if kind == "columns":
                data = (what, tuple(words[:n]) in vocabulary.summed)
            best = n, Piece(kind.removesuffix("s"), words[:n], data)
    return best


def _catalog_at(words: list[str], vocabulary: Vocabulary) -> tuple[int, Piece] | None:
    """The catalog's phrase at the start of ``words``; the place word of a column
    (`unitsOnOrder`: "on order") gives way to a longer phrase said after it ("the discount
    on order lines")."""
    found = _catalog_piece(words, vocabulary)
    if found is not None and words[0] in PLACES:
        after = _catalog_piece(words[1:], vocabulary)
        return None if after is not None and after[0] >= found[0] else found
    return found


def _corrected(word: str) -> str | None:
    """The keyword a misspelled word stands for (`avrage`), if exactly one is close."""
    if len(word) < 5 or word in FILLERS or word in _KEYWORDS:
        return None
    close = difflib.get_close_matches(word, _KEYWORDS, n=2, cutoff=0.8)
    return close[0] if len(close) == 1 else None


_POSSESSIVES = frozenset({"our", "my", "your", "their", "its"})
_BE_WORDS = frozenset({"is", "are", "was", "were", "have", "has", "had"})
_GRAMMAR_TABLES: tuple[Any, ...] = (
    *(table for _, table in _FIXED),
    _COMPARATORS,
    _COMPARATIVES,
    _DATE_PREFIX,
    _TEXT_MATCH,
    _SAVE,
    MONTHS,
    COUNTRIES,
    US_STATES,
    _RECENT_HEADS,
    _RECENT_UNITS,
    _SUPERLATIVES,
    _ARITHMETIC_HEADS,
    _ARITHMETIC_INFIXES,
)
GRAMMAR_WORDS: frozenset[str] = frozenset(
    {
        w
        for table in _GRAMMAR_TABLES
        for key in table
        for w in (key if isinstance(key, tuple) else (key,))
    }
    | FILLERS
    | LIGHT_FORMS
    | set(NUMBER_WORDS)
    | _RECORDED
    | {"no", "missing", "when"}
)


def speller(vocabulary: Vocabulary) -> Speller:
    """Known words: the catalog's (and country names) first, then the grammar's."""
    countries = {w for key in COUNTRIES for w in key}
    return Speller.of(vocabulary.words() | countries, GRAMMAR_WORDS)


def _spelled(
    tokens: list[Token], spell: Speller, vocabulary: Vocabulary, notes: list[str]
) -> list[Token]:
    """The tokens with each word nothing knows read as the known word it is closest to
    (not a superlative made of a column's name, `windiest`)."""
    out = []
    words = [t.text for t in tokens]
    for i, token in enumerate(tokens):
        made = _column_superlative(words, i, vocabulary) is not None
        made = made or token.text in vocabulary.names.words  # a name is spelled as it is
        corrected = spell.correct(token.text) if token.kind == "word" and not made else None
        if corrected is not None:
            notes.append(f"{token.text}: read as `{corrected}`")
            token = Token(corrected)
        out.append(token)
    return out


def pieces(
    tokens: list[Token],
    vocabulary: Vocabulary,
    notes: list[str] | None = None,
    marks: dict[str, int] | None = None,
) -> tuple[list[Piece], list[str]]:
    """The pieces of a question and the words nothing read; ``notes`` gets the spelling
    corrections made."""
    tokens = _spelled(tokens, speller(vocabulary), vocabulary, notes if notes is not None else [])
    # "the value of our stock": a possessive between the words of a phrase says nothing
    tokens = [t for t in tokens if not (t.kind == "word" and t.text in _POSSESSIVES)]
    verbs = [i for i, t in enumerate(tokens) if t.text in _BE_WORDS]
    if marks is not None and verbs:
        marks["verb"] = verbs[0]  # "the share of the penguins on Biscoe | are female"
    words = [t.text for t in tokens]
    out: list[Piece] = []
    unknown: list[str] = []
    i = 0
    while i < len(words):
        found = _at(tokens, i, words, vocabulary)
        if found is not None:
            n, piece = found
            piece.at = i
            out.append(piece)
            i += n
            continue
        corrected = _corrected(words[i]) if words[i] not in vocabulary.names.words else None
        if corrected is not None:
            words[i] = corrected
            tokens[i] = Token(corrected)
            continue
        if tokens[i].kind != "word" or words[i] not in FILLERS | LIGHT_FORMS:
            unknown.append(words[i])
        i += 1
    out = _names_over_table_words(out, vocabulary)
    for piece in out:
        piece.held = piece.kind in ("table", "column") and _after_have(words, piece.at)
    return _counts_per_value(_joined_columns(_columns_of_values(out, words))), unknown


_HAVE = frozenset({"have", "has", "had"})
_BETWEEN_HAVE = frozenset(
    {
        "a",
        "an",
        "any",
        "at",
        "least",
        "one",
        "ever",
        "already",
        "placed",
        "made",
        "received",
        "been",
        "given",
    }
)


def _after_have(words: list[str], at: int) -> bool:
    """Whether the words before ``at`` are `have` and only an article or a light verb
    ("have placed an", "has any", "had at least one"), or `with` and an article ("with a")."""
    i = at - 1
    while i >= 0 and words[i] in _BETWEEN_HAVE:
        i -= 1
    article = i + 1 < at and words[i + 1] in ("a", "an", "any")
    return i >= 0 and (words[i] in _HAVE or (words[i] == "with" and article))


def _names_over_table_words(found: list[Piece], vocabulary: Vocabulary) -> list[Piece]:
    """A word of a table's compound name (`seattle` of `seattle-weather`) that is also a name
    held by another table the question names ("the airports in Seattle"): that name."""
    named = {p.data for p in found if p.kind == "table"}
    out = []
    for piece in found:
        options = vocabulary.names.phrases.get(tuple(piece.words), [])
        if piece.kind == "table" and tuple(piece.words) in vocabulary.table_words:
            options = [(r, v) for r, v in options if r.table in named - {piece.data}]
            if options:
                piece = Piece("value", piece.words, options, piece.at)
        out.append(piece)
    return out


def _counts_per_value(found: list[Piece]) -> list[Piece]:
    """`how many male and how many female penguins`: one count per value said, each after its
    own `how many` (one piece `each_value` of the values)."""
    out: list[Piece] = []
    i = 0
    while i < len(found):
        values: list[Piece] = []
        j = i
        while j + 1 < len(found) and found[j].kind == "count" and found[j + 1].kind == "value":
            values.append(found[j + 1])
            j += 2
        if len(values) < 2:
            out.append(found[i])
            i += 1
            continue
        words = [w for p in found[i:j] for w in p.words]
        out += [found[i], Piece("each_value", words, values, found[i + 1].at)]
        i = j
    return out


def _joined_columns(found: list[Piece]) -> list[Piece]:
    """A column named in two parts, the things first and where they are later ("how many
    units of Chang are in stock": `unitsInStock`): one column, where the things are said."""
    out = list(found)
    for later in found:
        if later.kind != "column" or later.words[0] not in PLACES:
            continue
        for index, first in enumerate(out):
            if first is later:
                break
            if first.kind == "column" and all(
                name_parts(r.column) == [*first.words, *later.words] for r in later.data[0]
            ):
                out[index] = Piece("column", first.words, later.data, first.at)
                out.remove(later)
                break
    # "the products in stock", "how many products are on order": some are there
    return [
        Piece("placed", p.words, p.data[0], p.at)
        if p.kind == "column" and p.words[0] in PLACES
        else p
        for p in out
    ]


# Pieces after which a column is what is asked of (grouped, counted, ranked), not the column of
# the value that follows it.
_ASKING = frozenset(
    {
        "group",
        "sort",
        "count",
        "distinct",
        "aggregate",
        "most",
        "superlative",
        "top",
        "common",
        "versus",
        "time",
    }
)


def _columns_of_values(found: list[Piece], words: list[str]) -> list[Piece]:
    """A column said just before a value it holds ("the state CA", "the city of Graz",
    "individual N10A1", "whose country is Germany") only says whose value it is: the value,
    read on that column (or on the columns named like it, `shipCity` for a city), and no
    column piece."""
    out: list[Piece] = []
    for piece in found:
        before = out[-1] if out else None
        if (
            piece.kind == "value"
            and before is not None
            and before.kind == "column"
            and _said_before(before, piece, words)
            and not (len(out) > 1 and out[-2].kind in _ASKING)
        ):
            refs: list[ColumnRef] = before.data[0]
            said = [singular(w) for w in before.words]
            kept = [
                (r, v)
                for r, v in piece.data
                if r in refs or [singular(p) for p in name_parts(r.column)][-len(said) :] == said
            ]
            if kept:
                out[-1] = Piece("value", [*before.words, *piece.words], kept, before.at)
                continue
        out.append(piece)
    return out


_COLUMN_TO_VALUE = frozenset({"of", "is", "are", "was", "were", "equals"})


def _said_before(column: Piece, value: Piece, words: list[str]) -> bool:
    """Whether ``column`` is said right before ``value``, or with `of` or `is` between ("the
    city of Graz", "whose country is Germany")."""
    end = column.at + len(column.words)
    return column.at >= 0 and (
        value.at == end or (value.at == end + 1 and words[end] in _COLUMN_TO_VALUE)
    )


_WHEN_EXTREMES = {"first": "min", "earliest": "min", "last": "max", "latest": "max"}


def _when_extreme(words: list[str], i: int, vocabulary: Vocabulary) -> tuple[int, Piece] | None:
    """`when was the first order placed`: the earliest date of the table's rows; `the first
    date in the data`: the least of a date column."""
    j = i + (words[i] == "when")
    while j < len(words) and words[j] in ("was", "were", "did", "the", "is"):
        j += 1
    if (
        j >= len(words)
        or words[j] not in _WHEN_EXTREMES
        or (j == i and i > 0 and words[i - 1] not in ("the", "what", "is"))
    ):
        return None
    function = _WHEN_EXTREMES[words[j]]
    table = vocabulary.match(words[j + 1 :], "tables") if words[i] == "when" else None
    if table is not None and table[2]:
        n = j + 1 + table[0] - i
        return n, Piece("when_extreme", words[i : i + n], (function, table[1]))
    refs = vocabulary.columns.get(tuple(words[j + 1 : j + 2]), [])
    if refs and all(is_temporal(r) for r in refs):  # "the first date"
        return j + 1 - i, Piece("aggregate", words[i : j + 1], function)
    return None


_SPLIT_COMPARATORS = {
    "more": ">",
    "fewer": "<",
    "less": "<",
    "greater": ">",
    "higher": ">",
    "lower": "<",
}
_COLUMN_COMPARATORS = {
    ("more", "than"): ">",
    ("greater", "than"): ">",
    ("higher", "than"): ">",
    ("larger", "than"): ">",
    ("less", "than"): "<",
    ("fewer", "than"): "<",
    ("lower", "than"): "<",
    ("smaller", "than"): "<",
    ("after",): ">",
    ("later", "than"): ">",
    ("before",): "<",
    ("earlier", "than"): "<",
}


def _column_comparison(
    words: list[str], i: int, vocabulary: Vocabulary
) -> tuple[int, Piece] | None:
    """`than their reorder level`, `after their required date`: a comparison with another
    column of the same rows."""
    left: Any = None
    found = _starts(words[i:], _COLUMN_COMPARATORS)
    if found is None and words[i] in _SPLIT_COMPARATORS:
        # "fewer units in stock than their reorder level"
        left = vocabulary.match(words[i + 1 :], "columns")
        k = i + 1 + left[0] if left is not None and left[2] else len(words)
        if k < len(words) and words[k] == "than":
            found = ((*words[i : k + 1],), _SPLIT_COMPARATORS[words[i]])
            left = left[1] if left is not None else None
    if found is None:
        return None
    j = i + len(found[0])
    j += j < len(words) and words[j] in ("the", "their", "its", "his", "her")
    column = vocabulary.match(words[j:], "columns")
    if column is None or not column[2]:
        return None
    n = j + column[0] - i
    return n, Piece("column_compare", words[i : i + n], (found[1], column[1], left))


def _column_superlative(
    words: list[str], i: int, vocabulary: Vocabulary
) -> tuple[int, Piece] | None:
    """`windiest`, `rainiest`: the superlative of a number column named by its stem."""
    word = words[i]
    if not word.endswith("iest") or len(word) < 7 or (word,) in vocabulary.columns:
        return None
    stem = next((s for s in (word[:-4], word[:-4] + "e") if (s,) in vocabulary.columns), None)
    refs = vocabulary.columns.get((stem,), []) if stem else []
    if stem is None or not refs or not all(is_numeric(r) for r in refs):
        return None
    return 1, Piece("superlative", [word], (stem, True, refs))


def _number_by_noun(
    tokens: list[Token], i: int, words: list[str], vocabulary: Vocabulary
) -> tuple[int, Piece] | None:
    """A number beside a noun: "which 5 orders" (that many), "8 cylinders" (the column's
    value), "order 10248" (the row of that key)."""
    number = tokens[i]
    if number.kind != "number" or number.unit:
        return None
    named = vocabulary.match(words[i + 1 :], "tables")
    if named is not None and named[2] and isinstance(number.value, int) and 0 < number.value < 1000:
        # "which 5 orders had the highest freight": the first 5 in an order still to come
        return 1, Piece("top", [words[i]], (number.value, None))
    column = vocabulary.match(words[i + 1 :], "columns")
    if column is not None and column[2]:
        # "cars with 8 cylinders": a number of the column that follows
        return 1, Piece("compare", [words[i]], ("=", number.value, None, None))
    before = vocabulary.tables.get((words[i - 1],)) if i > 0 else None
    if (
        before is not None
        and isinstance(number.value, int)
        and words[i - 1] == singular(words[i - 1])
    ):  # "order 10248": the order whose own key is 10248
        return 1, Piece("compare", [words[i]], ("=", number.value, None, "@key"))
    return None


def _arithmetic(words: list[str], i: int, vocabulary: Vocabulary) -> tuple[int, Piece] | None:
    """Arithmetic between two number columns of one table, a value of each row: `the ratio of
    bill length to bill depth`, `temp max minus temp min`; read as one column."""
    head = _starts(words[i:], _ARITHMETIC_HEADS)
    j = _past_articles(words, i + len(head[0])) if head else i
    first = vocabulary.match(words[j:], "columns")
    if first is None or not first[2]:
        return None
    k = j + first[0]
    if head is not None:
        joiners, op = head[1]
        joined = k < len(words) and words[k] in joiners
        k, infix = k + joined, (op if joined else None)
    else:
        found = _starts(words[k:], _ARITHMETIC_INFIXES)
        k, infix = (k + len(found[0]), found[1]) if found else (k, None)
    k = _past_articles(words, k)
    second = vocabulary.match(words[k:], "columns") if infix else None
    if infix is None or second is None or not second[2]:
        return None
    ref = _formula(infix, first[1], second[1])
    if ref is None:
        return None
    n = k + second[0] - i
    return n, Piece("column", words[i : i + n], ([ref], False))


_HIGH_LOW = {
    "highest": True,
    "lowest": False,
    "largest": True,
    "smallest": False,
    "maximum": True,
    "minimum": False,
    "biggest": True,
}


def _extreme_word(words: list[str], i: int) -> tuple[int, str | None, bool] | None:
    """A superlative at ``i``: (words used, the column word it implies or None, highest)."""
    found = _starts(words[i:], _SUPERLATIVES)
    if found is not None and not found[1][0].startswith("@"):
        return len(found[0]), found[1][0], found[1][1]
    if i < len(words) and words[i] in _HIGH_LOW:
        return 1, None, _HIGH_LOW[words[i]]
    return None


def _spread(words: list[str], i: int) -> tuple[int, Piece] | None:
    """`the difference between the heaviest and the lightest penguin`, `the difference between
    the highest and lowest price`: the greatest value of a column less its least."""
    if words[i : i + 2] != ["difference", "between"]:
        return None
    j = _past_articles(words, i + 2)
    first = _extreme_word(words, j)
    if first is None:
        return None
    k = j + first[0]
    if k >= len(words) or words[k] != "and":
        return None
    k = _past_articles(words, k + 1)
    second = _extreme_word(words, k)
    if second is None or second[1] != first[1] or second[2] == first[2]:
        return None
    n = k + second[0] - i
    return n, Piece("spread", words[i : i + n], first[1])


def _past_articles(words: list[str], i: int) -> int:
    while i < len(words) and words[i] in ("the", "a", "its", "their"):
        i += 1
    return i


def _formula(op: str, left: Any, right: Any) -> ColumnRef | None:
    """The computed column of two columns said (each of some tables): of the one table with a
    number column of each; a raw variant of a table (`penguins-raw`) gives way to it."""
    pairs = [
        (a, b)
        for a in left
        for b in right
        if a.table == b.table and a != b and is_numeric(a) and is_numeric(b)
    ]
    tables = {a.table for a, _ in pairs}
    pairs = [
        (a, b) for a, b in pairs if not any(_table_words(t) < _table_words(a.table) for t in tables)
    ]
    if len(pairs) != 1:
        return None
    a, b = pairs[0]
    label = f"{a.column} {op} {b.column}"
    return ColumnRef(a.table, label, "double", formula=(op, a, b))


def _latest_year(words: list[str], i: int, vocabulary: Vocabulary) -> tuple[int, Piece] | None:
    """`in the latest study year`, `from the most recent model year`: the latest value of a
    column of years said by its name."""
    found = _starts(words[i:], _RECENT_HEADS)
    if found is None or found[0][-1] == "last":
        return None
    j = i + len(found[0])
    column = vocabulary.match(words[j:], "columns")
    if column is None or not column[2] or words[j + column[0] - 1] not in ("year", "years"):
        return None
    said = vocabulary.columns.get(tuple(words[j : j + column[0]]), [])
    refs = [r for r in said if is_year(r) or is_temporal(r)]
    if not refs:
        return None
    n = j + column[0] - i
    return n, Piece("latest_year", words[i : i + n], refs)


def _out_of(words: list[str], i: int, vocabulary: Vocabulary) -> tuple[int, Piece] | None:
    """`out of stock`: none left of a count of things where they are (`unitsInStock` = 0)."""
    if words[i : i + 2] != ["out", "of"] or i + 2 >= len(words):
        return None
    refs = vocabulary.columns.get(("in", words[i + 2]), [])
    if not refs or not all(is_numeric(r) for r in refs):
        return None
    return 3, Piece("compare", words[i : i + 3], ("=", 0, None, words[i + 2]))


def _at(
    tokens: list[Token], i: int, words: list[str], vocabulary: Vocabulary
) -> tuple[int, Piece] | None:
    for reader in (_save, _relative, _date_range, _comparison, _text_match, _top):
        found = reader(tokens, i, words)
        if found is not None:
            return found
    found = (
        _arithmetic(words, i, vocabulary)
        or _spread(words, i)
        or _out_of(words, i, vocabulary)
        or _latest_year(words, i, vocabulary)
        or _when_extreme(words, i, vocabulary)
        or _column_comparison(words, i, vocabulary)
        or _missing(words, i, vocabulary)
        or _number_by_noun(tokens, i, words, vocabulary)
        or _column_superlative(words, i, vocabulary)
    )
    if found is not None:
        return found
    catalog = _catalog_at(words[i:], vocabulary) if tokens[i].kind == "word" else None
    fixed: tuple[int, Piece] | None = None
    for kind, table in _FIXED:
        match = _starts(words[i:], table)
        if match is not None and (fixed is None or len(match[0]) > fixed[0]):
            fixed = len(match[0]), Piece(kind, list(match[0]), match[1])
    named = (
        catalog is not None
        and fixed is not None
        and catalog[0] == fixed[0]
        and (fixed[1].kind == "day" and catalog[1].kind == "table")
    )  # a table named `days`
    said = _name_over(_name(tokens, i, words, vocabulary), catalog, fixed, vocabulary)
    if said is not None:
        return said
    if catalog is not None and (fixed is None or catalog[0] > fixed[0] or named):
        return catalog
    if fixed is None and tokens[i].kind == "word":
        return _place_at(words[i:])
    return fixed


def _place_at(words: list[str]) -> tuple[int, Piece] | None:
    """ "customers in Germany", "airports in Texas": a country or a US state by its name."""
    for kind, places in (("country", COUNTRIES), ("state", US_STATES)):
        place = _starts(words, places)
        if place is not None:
            return len(place[0]), Piece(kind, list(place[0]), place[1])
    return None


# A quantity's units said after `how many`: the number of them is the quantities' sum.
_COUNTED_UNITS = frozenset({("units",), ("units", "sold"), ("pieces",), ("items", "sold")})


def _name(
    tokens: list[Token], i: int, words: list[str], vocabulary: Vocabulary
) -> tuple[int, Piece] | None:
    """A value of a long value list (a product, a person, an airport code: `Chai`, `Nancy`,
    `LAX`) said whole, the longest first, when the question writes it as a name (see
    :func:`_written_as_name`)."""
    names = vocabulary.names
    if not names.phrases or tokens[i].kind != "word" or words[i] not in names.words:
        return None
    for n in range(min(names.longest, len(words) - i), 0, -1):
        options = names.phrases.get(tuple(words[i : i + n]))
        if options:
            fit = [o for o in options if _written_as_name(tokens[i : i + n], i, o[1], vocabulary)]
            if fit:
                return n, Piece("value", words[i : i + n], fit)
    return None


def _name_over(
    said: tuple[int, Piece] | None,
    catalog: tuple[int, Piece] | None,
    fixed: tuple[int, Piece] | None,
    vocabulary: Vocabulary,
) -> tuple[int, Piece] | None:
    """The name said, when no phrase of the catalog or the grammar as long is said there (or
    only one guessed from its spelling); a value of both short and long lists ("London", a
    city of suppliers and of customers) with every column that holds it."""
    if said is None:
        return None
    if (
        catalog is not None
        and catalog[1].kind == "value"
        and (said[0] == catalog[0] and not _guessed(catalog, vocabulary))
    ):
        options = list(dict.fromkeys([*catalog[1].data, *said[1].data]))
        said, catalog = (said[0], Piece("value", said[1].words, options)), None
    if all(
        other is None or said[0] > other[0] or (said[0] == other[0] and _guessed(other, vocabulary))
        for other in (catalog, fixed)
    ):
        return said
    return None


def _written_as_name(said: list[Token], at: int, value: str, vocabulary: Vocabulary) -> bool:
    """Whether the words ``said`` at ``at`` stand for ``value``: a code in capitals (`CA`,
    `LAX`) only written in capitals; a name made only of common words (English, the grammar's,
    the catalog's: `Sea`, `Orange`, `Total`) only written with capitals and not first in the
    question (where every word has one). Any other name in any case (`chai`, `n31a1`)."""
    written = [t.cased for t in said if t.cased[:1].isalpha()]
    if not written and any(t.kind == "word" for t in said):
        return False  # how the question wrote it is not known
    code = any(w.isalpha() for w in value.split()) and value == value.upper() != value.lower()
    if code and any(w != w.upper() for w in written):
        return False
    if all(t.text in _common_words(vocabulary) or not t.text.isalpha() for t in said):
        capitals = [w for w in written if w.lower() not in _MINOR_WORDS]  # "War and Peace"
        return at > 0 and bool(capitals) and all(w[:1].isupper() for w in capitals)
    return True


# Words a name leaves in lower case between its capitalized ones.
_MINOR_WORDS = frozenset(
    {
        "and",
        "of",
        "the",
        "a",
        "an",
        "in",
        "on",
        "at",
        "to",
        "for",
        "de",
        "la",
        "le",
        "du",
        "von",
        "van",
        "y",
    }
)


def _common_words(vocabulary: Vocabulary) -> frozenset[str]:
    """Words a question uses as words: common English ones, the grammar's and the catalog's."""
    if vocabulary.common is None:
        vocabulary.common = COMMON_WORDS | GRAMMAR_WORDS | vocabulary.words()
    return vocabulary.common


def _guessed(found: tuple[int, Piece], vocabulary: Vocabulary) -> bool:
    """Whether a catalog piece was read from a close spelling, not a phrase as written."""
    phrase = tuple(found[1].words)
    return found[1].kind in ("value", "measure", "table", "column", "verb") and not any(
        phrase in index
        for index in (
            vocabulary.values,
            vocabulary.measures,
            vocabulary.tables,
            vocabulary.columns,
            vocabulary.verbs,
        )
    )


_KINDS = (
    "count",
    "distinct",
    "group",
    "sort",
    "direction",
    "superlative",
    "negation",
    "aggregate",
    "most",
    "time",
    "which",
    "versus",
    "value",
    "table",
    "column",
    "verb",
    "date",
    "compare",
    "range",
    "text",
    "top",
    "save",
    "measure",
    "country",
    "state",
    "day",
    "bound",
    "share",
    "missing",
    "yet",
    "how_much",
    "convert",
    "alphabetical",
    "common",
    "on_average",
    "column_compare",
    "when_extreme",
    "in_total",
    "when",
    "each_value",
    "latest_year",
    "placed",
    "spread",
)

# Pieces to a query ---------------------------------------------------------------------------


@dataclass
class Metric:
    function: str  # count | count_distinct | sum | avg | min | max | spread | measure
    column: ColumnRef | None = None
    table: str | None = None  # for count(*): rows of this table; a measure's table
    # A semantic layer measure: as defined (function `measure`), or sum/avg/min/max of its
    # row expression.
    measure: CatalogMeasure | None = None
    scale: float | None = None  # "in kilograms" of a column in grams: times 0.001

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
    at: int = -1  # where in the question it was said
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
    named: list[str] = field(default_factory=list)  # the tables the question names
    mentioned: list[str] = field(default_factory=list)  # ...and reads as tables
    share: bool = False  # the share of the rows (or of a total) that the conditions keep
    verb_at: int = -1  # where the question's first `is`/`are`... is (-1: none)
    understood: list[str] = field(default_factory=list)

    def touch(self, table: str) -> None:
        if table not in self.tables:
            self.tables.append(table)


def read_plan(
    tokens: list[Token], catalog: PromptCatalog, vocabulary: Vocabulary
) -> Plan | NotUnderstood:
    """The question's plan over the catalog (what
    :func:`rivergen.services.planning.sql_writer.read_query` writes as SQL), or what was not
    understood."""
    notes: list[str] = []
    marks: dict[str, int] = {}
    found, unknown = pieces(tokens, vocabulary, notes, marks)
    if unknown:
        return NotUnderstood(
            message=f"Not understood: {', '.join(unknown)}. See the prompt guide for what "
            "can be asked.",
            unknown=unknown,
        )
    try:
        reader = _Reader(catalog)
        reader.plan.understood.extend(notes)
        reader.plan.verb_at = marks.get("verb", -1)
        return reader.read(found)
    except Unreadable as exc:
        return NotUnderstood(message=exc.message, unknown=exc.unknown)


# What may follow a piece that asks for more ("average" asks for a column): anything else
# means the question is not read.
_FOLLOWERS: dict[str, frozenset[str]] = {
    "aggregate": frozenset({"column", "table", "value", "measure", "aggregate", "most", "count"}),
    "count": frozenset(
        {"table", "column", "distinct", "value", "compare", "each_value", "country", "state"}
    ),
    "group": frozenset({"column", "table", "time", "count", "value", "country", "state"}),
    "sort": frozenset({"column", "count", "aggregate", "time", "measure"}),
    "rank": frozenset({"column", "table", "count", "aggregate", "value", "measure"}),
    "rank_count": frozenset({"table", "value"}),
    "rank_aggregate": frozenset({"column", "table", "measure"}),
    "superlative": frozenset({"table", "value", "column", "on_average"}),
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
        self.value_tables: list[str] = []
        self.day_table: str | None = None
        self.yet_read = False
        self.alphabetical = False
        self.near: str | None = None
        self.place_near: str | None = None
        self.top_seen = False
        self.last: Piece | None = None
        self.awaiting: Condition | None = None
        self.amount = False
        self.when: Piece | None = None
        self.asked_n: int | None = None

    def read(self, found: list[Piece]) -> Plan:
        found = self._days(found)
        self.upcoming = [p.data for p in found if p.kind == "table"]
        self.plan.named = list(dict.fromkeys(self.upcoming))
        # The tables of values said anywhere ("the average price of beverages": a category).
        self.value_tables = list(
            dict.fromkeys(
                p.data[0][0].table
                for p in found
                if p.kind == "value" and len({ref.table for ref, _ in p.data}) == 1
            )
        )
        for index, piece in enumerate(found):
            following = found[index + 1] if index + 1 < len(found) else None
            if self.mode is not None and piece.kind not in _FOLLOWERS.get(
                self.mode[0], frozenset(_KINDS)
            ):
                before = " ".join(self.last.words) if self.last else ""
                raise Unreadable(f"`{' '.join(piece.words)}` cannot follow `{before}`", piece.words)
            said = len(self.plan.conditions)
            getattr(self, f"_{piece.kind}")(piece, following)
            for condition in self.plan.conditions[said:]:
                condition.at = piece.at
            self.last = piece
        self._check_end()
        return self.plan

    def _share(self, piece: Piece, following: Piece | None) -> None:
        if self.plan.share or self.mode is not None or self.plan.metrics:
            raise Unreadable(f"`{' '.join(piece.words)}`: a share of what?", piece.words)
        self.plan.share = True
        self._note(piece.words, "the share, in percent, that the conditions keep")

    def _missing(self, piece: Piece, following: Piece | None) -> None:
        ref = self._pick(piece.data, piece.words)
        self.plan.touch(ref.table)
        op = "is not null" if self.negate else "is null"
        self.negate = False
        self.plan.conditions.append(Condition(ref, op, None))
        self._note(piece.words, f"{ref.table}.{ref.column} {op.upper()}")

    def _how_much(self, piece: Piece, following: Piece | None) -> None:
        """`how much precipitation fell`: the total of a quantity that adds up; of a price or
        a rate it is no total, and asked back."""
        if following is not None and following.kind == "measure" and self.mode is None:
            self.mode = ("aggregate", "sum")
        elif following is not None and following.kind == "column" and self.mode is None:
            refs = following.data[0]
            if not all(
                is_numeric(r) and not set(name_parts(r.column)) & AVERAGED_WORDS for r in refs
            ):
                raise Unreadable(
                    f"how much {' '.join(following.words)}: the total, the average or a value?",
                    piece.words,
                )
            self.mode = ("aggregate", "sum")

    def _convert(self, piece: Piece, following: Piece | None) -> None:
        """`in kilograms` after a total or an average of a column in grams: converted."""
        metric = self.plan.metrics[-1] if self.plan.metrics else None
        if (
            metric is None
            or metric.column is None
            or metric.function not in ("sum", "avg", "min", "max")
        ):
            raise Unreadable(f"`{' '.join(piece.words)}`: of which total?", piece.words)
        said = set(name_parts(metric.column.column)) & UNIT_WORDS
        to = CONVERTED_UNITS[piece.words[-1]]
        factor = CONVERSIONS.get((next(iter(said)), to)) if len(said) == 1 else None
        if factor is None:
            raise Unreadable(
                f"{metric.column.column} in {piece.words[-1]}: from which unit?", piece.words
            )
        metric.scale = factor
        self._note(piece.words, f"times {factor:g} ({next(iter(said))} to {to})")

    def _common(self, piece: Piece, following: Piece | None) -> None:
        """ "which weather type is the most common": the value with the most rows."""
        groups = [g for g in self.plan.groups if isinstance(g, ColumnRef)]
        if (
            len(groups) != 1
            or self.plan.metrics
            or self.mode not in (None, ("subject", (None, None)))
        ):
            raise Unreadable(f"`{' '.join(piece.words)}`: which value of what?", piece.words)
        self.mode = None
        self._rank(Metric("count", table=groups[0].table), (bool(piece.data), 1), piece.words)

    def _on_average(self, piece: Piece, following: Piece | None) -> None:
        """ "which species is the heaviest on average": ranked by the average, not by the
        heaviest one."""
        groups = [g for g in self.plan.groups if isinstance(g, ColumnRef)]
        if len(groups) != 1:
            raise Unreadable(
                f"`{' '.join(piece.words)}`: the average of what, per what?", piece.words
            )
        metric = self.plan.metrics[-1] if len(self.plan.metrics) == 1 else None
        if self.mode is not None and self.mode[0] == "superlative":
            word, descending, _ = self.mode[1]
            ref = _implicit_column(self.catalog, groups[0].table, word)
            if ref is None:
                raise Unreadable(f"`{' '.join(piece.words)}`: the average of what?", piece.words)
            self.mode = None
            self._rank(Metric("avg", ref), (descending, 1), piece.words)
        elif metric is not None and metric.function in ("max", "min") and metric.column:
            metric.function = "avg"  # "the longest flippers on average"
            self._note(piece.words, f"the average of {metric.column.column}")
        elif self.plan.order and isinstance(self.plan.order[-1][0], ColumnRef):
            key, descending = self.plan.order.pop()
            assert isinstance(key, ColumnRef)
            self.plan.limit = None
            self._rank(Metric("avg", key), (descending, 1), piece.words)
        else:
            raise Unreadable(f"`{' '.join(piece.words)}`: the average of what?", piece.words)

    def _column_compare(self, piece: Piece, following: Piece | None) -> None:
        """The column just said compared with another of the same table."""
        op, refs, said = piece.data
        left = self.pending_column if said is None else self._pick(said, piece.words)
        rights = [r for r in refs if left is not None and r.table == left.table]
        if left is None or len(rights) != 1 or _kind(left) != _kind(rights[0]):
            raise Unreadable(f"`{' '.join(piece.words)}`: compared with what?", piece.words)
        self.pending_column = None
        self.plan.conditions.append(Condition(left, op, rights[0]))
        self._note(piece.words, f"{left.column} {op} {rights[0].column}")

    def _when_extreme(self, piece: Piece, following: Piece | None) -> None:
        function, table = piece.data
        ref = _implicit_column(self.catalog, table, "@date")
        if ref is None or self.plan.metrics or self.mode is not None:
            raise Unreadable(f"`{' '.join(piece.words)}`: by which date?", piece.words)
        self.plan.touch(table)
        self._set_entity(table, True)
        self.plan.metrics.append(Metric(function, ref))
        self._note(piece.words, f"{function} of {table}.{ref.column}")

    def _in_total(self, piece: Piece, following: Piece | None) -> None:
        """`in total` after a total or a count already asked: it says so again."""
        totals = ("sum", "count", "count_distinct", "measure")
        if not self.plan.metrics or any(m.function not in totals for m in self.plan.metrics):
            raise Unreadable(f"`{' '.join(piece.words)}`: the total of what?", piece.words)
        self._note(piece.words, "the total asked already")

    def _alphabetical(self, piece: Piece, following: Piece | None) -> None:
        self.alphabetical = True

    def _yet(self, piece: Piece, following: Piece | None) -> None:
        if not self.yet_read:
            raise Unreadable("`yet`: not yet what?", piece.words)

    def _bound(self, piece: Piece, following: Piece | None) -> None:
        """`or more` after "474 pages": the number read as an equality becomes a bound."""
        last = self.plan.conditions[-1] if self.plan.conditions else None
        if last is None or last.op != "=" or not isinstance(last.value, int | float):
            raise Unreadable(f"`{' '.join(piece.words)}`: of which number?", piece.words)
        last.op = piece.data
        self._note(piece.words, f"{piece.data} {last.value}")

    def _days(self, found: list[Piece]) -> list[Piece]:
        """`days` as the rows of the one table the rest of the question is about, when that
        table has a column that is its rows' date (`date`, `day`): "how many rainy days"."""
        if not any(p.kind == "day" for p in found):
            return found
        tables = {t for p in found for t in _piece_tables(p)}
        daily = [t for t in tables if _day_column(self.catalog, t) is not None]
        if len(tables) != 1 or len(daily) != 1:
            raise Unreadable("`days` of which data? Name it, or what was measured each day.")
        self.day_table = daily[0]
        self.plan.understood.append(f"days: the rows of {daily[0]}, one a day")
        return [Piece("table", p.words, daily[0]) if p.kind == "day" else p for p in found]

    def _alphabetical_order(self) -> None:
        """ "in alphabetical order": by the name of the rows listed."""
        table = self.catalog.table(self.plan.entity) if self.plan.entity else None
        if table is None or self.plan.metrics or self.plan.groups or self.plan.order:
            raise Unreadable(
                "Alphabetical order of what? `list the categories in alphabetical order`."
            )
        refs = [column_ref(table.name, c) for c in table.columns]
        names = [r for r in refs if name_parts(r.column)[-1:] == ["name"] and not is_numeric(r)]
        if len(names) != 1:
            raise Unreadable(f"Alphabetical by which column of {table.name}?")
        self.plan.order.append((names[0], False))
        self.plan.understood.append(f"in alphabetical order: by {table.name}.{names[0].column}")

    def _check_end(self) -> None:
        if self.alphabetical:
            self._alphabetical_order()
        if self.mode is not None and self.mode[0] not in ("top", "which", "subject", "group_more"):
            raise Unreadable(
                f"`{self.mode[1] if self.mode[0] == 'text' else self.mode[0]}` "
                "is not followed by what it applies to"
            )
        if self.negate:
            raise Unreadable("`not` is not followed by a value it excludes")
        if self.plan.compare and not self.plan.groups:
            raise Unreadable("Compare by what? Name a column: `compare revenue by country`.")
        if self.top_seen and not self.plan.order:
            raise Unreadable("Top by what? `top 5 products by revenue`.")
        if self.when is not None:
            self._when_dates(self.when)
        of_all = [c for c in self.plan.conditions if isinstance(c.value, OfAll)]
        if of_all and (len(self.plan.conditions) > 1 or self.plan.groups):
            # "Adelie penguins heavier than the average": of all penguins, or of the Adelie?
            # "which species weigh more than the average": a species' average, or a penguin?
            raise Unreadable(
                "More than the average of every row, or of those the question keeps or "
                "groups? Ask one: `how many penguins weigh more than the average`."
            )
        self._check_named_count()

    def _when(self, piece: Piece, following: Piece | None) -> None:
        self.when = piece

    def _when_dates(self, piece: Piece) -> None:
        """`when was Nancy Davolio hired`: the date of the event said (`hireDate`), shown for
        the rows the question names; nothing else may be asked."""
        plan = self.plan
        dates = [r for r in plan.projection if is_temporal(r)]
        if plan.metrics or plan.groups or not dates or len(dates) != len(plan.projection):
            raise Unreadable(
                f"`{' '.join(piece.words)}`: the date of what? Name the event: "
                "`when was Nancy hired`.",
                piece.words,
            )
        self._note(
            piece.words,
            f"the date{'s' if len(dates) > 1 else ''} {', '.join(r.column for r in dates)}",
        )

    def _named_by(self, ref: ColumnRef) -> bool:
        """Whether ``ref`` holds names (a long value list), not kinds (`rain`, `Beverages`)."""
        table = self.catalog.table(ref.table)
        column = next((c for c in table.columns if c.name == ref.column), None) if table else None
        return column is not None and len(column.values) > SPELLED_VALUES

    def _check_named_count(self) -> None:
        """`how many pages does Emma have`: a count of a number column's values on rows a name
        of their own names (a value of a long list) is the number itself, or how many rows
        have one: asked back."""
        named = {
            c.column.table
            for c in self.plan.conditions
            if c.from_value
            and c.column is not None
            and c.op in ("=", "in")
            and self._named_by(c.column)
        }
        for metric in self.plan.metrics:
            ref = metric.column
            if metric.function == "count" and ref is not None and ref.table in named:
                raise Unreadable(f"`{ref.column}`: its value, or how many rows have one?")

    def _note(self, words: list[str], what: str) -> None:
        self.plan.understood.append(f"{' '.join(words)}: {what}")

    # One method per piece kind.

    def _count(self, piece: Piece, following: Piece | None) -> None:
        if (
            self.mode is not None
            and self.mode[0] in ("aggregate", "group")
            and following is not None
            and following.kind == "column"
            and all(is_numeric(r) and not _is_key(r) for r in following.data[0])
        ):  # "average number of units in stock", "by number of cylinders": the column itself
            return
        if self.mode is not None and self.mode[0] in ("aggregate", "group"):
            # "average number of orders per customer": an average of counts, not read here
            raise Unreadable(
                f"`{' '.join(piece.words)}` cannot follow `{self.mode[0]}`", piece.words
            )
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
        elif self.mode is not None and self.mode[0] == "aggregate":
            # "the lowest and highest prices", "minimum and maximum": both of the column
            before = self.mode[1] if isinstance(self.mode[1], tuple) else (self.mode[1],)
            self.mode = ("aggregate", (*before, piece.data))
        else:
            self.mode = ("aggregate", piece.data)

    def _versus(self, piece: Piece, following: Piece | None) -> None:
        self.plan.compare = True

    def _which(self, piece: Piece, following: Piece | None) -> None:
        self.which = True
        self.mode = ("which", None)

    def _most(self, piece: Piece, following: Piece | None) -> None:
        descending = bool(piece.data)
        self.amount = piece.words in (["most"], ["least"])  # "the most rain": an amount
        top = self.mode is not None and self.mode[0] == "top"
        asked = self.which and bool(self.plan.groups)  # "in which year were the most penguins"
        if following is not None and following.kind == "table" and asked and self.mode is None:
            self.mode = ("rank", (descending, 1))
        elif following is not None and following.kind == "table" and (self.mode is None or top):
            n = self.mode[1][0] if self.mode is not None else None
            self.mode = ("superlative", ("@money", descending, n))  # "the 5 largest orders"
        elif self.mode is not None and self.mode[0] in ("top", "subject"):
            n = self.mode[1][0]
            self.mode = ("rank", (descending, n or (1 if self.which else 10)))
        elif self.which:
            self.mode = ("rank", (descending, 1))
        else:
            self._aggregate(
                Piece("aggregate", piece.words, "max" if descending else "min"), following
            )

    def _group(self, piece: Piece, following: Piece | None) -> None:
        if (
            piece.words == ["by"]
            and self.mode is None
            and following is not None
            and following.kind == "value"
            and all(self._named_by(r) for r, _ in following.data)
        ):  # "books by Leo Tolstoy": whose, not a group per name
            self._note(piece.words, "of the one named next")
            return
        if self.mode is not None and self.mode[0] == "subject":
            n, descending = self.mode[1]
            self.mode = ("rank", (True if descending is None else descending, n or 10))
        else:
            self.mode = ("group", None)

    def _sort(self, piece: Piece, following: Piece | None) -> None:
        self.mode = ("sort", None)

    def _direction(self, piece: Piece, following: Piece | None) -> None:
        if not self.plan.order:
            raise Unreadable(f"`{' '.join(piece.words)}`: sorted by what?", piece.words)
        key, _ = self.plan.order[-1]
        self.plan.order[-1] = (key, bool(piece.data))

    def _negation(self, piece: Piece, following: Piece | None) -> None:
        self.negate = True

    def _time(self, piece: Piece, following: Piece | None) -> None:
        self.plan.groups.append(f"@{piece.data}")
        self._note(piece.words, f"grouped by {piece.data}")
        self.mode = None

    def _top(self, piece: Piece, following: Piece | None) -> None:
        if self._event_order(piece, following):
            return
        self.top_seen = True
        n, descending = piece.data
        self.mode = ("top", (n, descending))
        self.which = False

    def _event_order(self, piece: Piece, following: Piece | None) -> bool:
        """`which 3 employees were hired first`, `who was hired last`: the rows in the order
        of the event's date just said (first: the earliest), as many as asked or one."""
        said = self.last.data[0] if self.last is not None and self.last.kind == "column" else []
        dates = [r for r in said if is_temporal(r) and r in self.plan.projection]
        if piece.words not in (["first"], ["last"]) or following is not None or len(dates) != 1:
            return False
        n = self.asked_n
        latest = piece.words == ["last"]
        self.plan.projection.remove(dates[0])
        self.plan.order.append((dates[0], latest))
        self.plan.limit = n or 1
        self.mode = None
        self._note(
            piece.words, f"ordered by {dates[0].column}, {'latest' if latest else 'earliest'} first"
        )
        return True

    def _superlative(self, piece: Piece, following: Piece | None) -> None:
        n = (
            self.mode[1][0]
            if self.mode is not None and self.mode[0] in ("top", "subject")
            else None
        )
        data = (piece.data[0], piece.data[1], n)
        said = self.last.data[0] if self.last is not None and self.last.kind == "column" else []
        dates = [r for r in said if is_temporal(r) and r.table == self.plan.entity]
        if piece.data[0] in ("@date", "@age") and len(dates) == 1 and self.plan.order == []:
            # "which employee was hired most recently": by the date just said
            self.plan.projection = [r for r in self.plan.projection if r != dates[0]]
            self.plan.order.append((dates[0], bool(piece.data[1])))
            self.plan.limit = n or 1
            self.mode = None
            self._note(piece.words, f"ordered by {dates[0].column}")
            return
        if self.plan.entity is not None and (
            following is None or following.kind not in ("table", "column")
        ):
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
        said = []
        for op, day in piece.data:
            value = day.isoformat() if isinstance(day, date) else day
            self.plan.conditions.append(Condition(column, op, value, hint="@date", near=self.near))
            said.append(f"{op} {value}")
        self._note(piece.words, " and ".join(said))

    def _compare(self, piece: Piece, following: Piece | None) -> None:
        op, value, unit, word = piece.data
        column = self._take_pending()
        near = self.place_near if word == "@key" else self.near  # "order 10248": the order's
        condition = Condition(column, op, value, unit, word, near)
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
        just = [self.last.data] if self.last is not None and self.last.kind == "table" else []
        for table in [*just, self.plan.entity, *self.upcoming]:  # "customers in Germany"
            mine = [(r, v) for r, v in options if r.table == table]
            if len(columns) > 1 and len({r for r, _ in mine}) == 1:
                if self._names_a_referred_row(mine[0][0], options):
                    raise Unreadable(
                        f"`{' '.join(piece.words)}` is a value of several columns", piece.words
                    )
                options, columns = mine, {mine[0][0]}  # "customers in London": theirs
        if len(columns) > 1:
            canonical = _canonical(self.catalog, options, lambda o: o[0].table)
            if canonical is None:
                raise Unreadable(
                    f"`{' '.join(piece.words)}` is a value of several columns", piece.words
                )
            options, columns = [canonical], {canonical[0]}
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
        qualifies = following is not None and following.kind == "column"  # "each German city"
        if self.mode is not None and self.mode[0] in ("group", "sort") and not qualifies:
            raise Unreadable(
                f"`{' '.join(piece.words)}` is a value, not a column to group or sort by",
                piece.words,
            )

    def _spread(self, piece: Piece, following: Piece | None) -> None:
        """The greatest less the least of a column said next, or of the column its
        superlatives imply in the table said next (`heaviest`: a weight)."""
        word: str | None = piece.data
        if word is None or (following is not None and following.kind == "column"):
            self.mode = ("aggregate", "spread")  # "...the longest and shortest flipper length"
            return
        table = following.data if following is not None and following.kind == "table" else None
        ref = _implicit_column(self.catalog, table, word) if table else None
        if ref is None:
            raise Unreadable(f"`{' '.join(piece.words)}`: of what?", piece.words)
        self.plan.metrics.append(Metric("spread", ref))
        self._note(piece.words, f"max less min of {ref.table}.{ref.column}")

    def _placed(self, piece: Piece, following: Piece | None) -> None:
        """`in stock` said of rows: some of the things are there (`unitsInStock > 0`)."""
        ref = self._pick(piece.data, piece.words)
        self.plan.touch(ref.table)
        op = "=" if self.negate else ">"  # "not in stock": none there
        self.negate = False
        self.plan.conditions.append(Condition(ref, op, 0))
        self._note(piece.words, f"{ref.table}.{ref.column} {op} 0")

    def _latest_year(self, piece: Piece, following: Piece | None) -> None:
        ref = self._pick(piece.data, piece.words)
        self.plan.touch(ref.table)
        self.plan.conditions.append(Condition(ref, "recent", ("latest", 1, "year")))
        self._note(piece.words, f"the latest year of {ref.table}.{ref.column}")

    def _each_value(self, piece: Piece, following: Piece | None) -> None:
        """Values each counted apart (`how many male and how many female`): kept, and
        grouped by their column."""
        said = len(self.plan.conditions)
        for value in piece.data:
            self._value(value, following)
        kept = self.plan.conditions[said:]
        if len(kept) != 1 or kept[0].op != "in" or kept[0].column is None:
            raise Unreadable(
                f"`{' '.join(piece.words)}`: values of one column, each counted?", piece.words
            )
        self.plan.groups.append(kept[0].column)
        self._note(piece.words, f"one count for each of {', '.join(map(str, kept[0].value))}")

    def _names_a_referred_row(self, ref: ColumnRef, options: list[tuple[ColumnRef, str]]) -> bool:
        """Whether a value of ``ref`` is also the name of a row its table refers to: an order's
        `shipName` and its customer's `companyName` (the customer's orders, or those shipped
        under that name? they differ where the names do)."""
        return any(
            other.table != ref.table
            and "name" in name_parts(other.column)
            and _refers(self.catalog, ref.table, other.table)
            for other, _ in options
        )

    def _country(self, piece: Piece, following: Piece | None) -> None:
        self._place(piece, "country")

    def _state(self, piece: Piece, following: Piece | None) -> None:
        self._place(piece, "state")

    def _place(self, piece: Piece, kind: str) -> None:
        """A country or a state said by its name: a condition on the column named so (any
        case, any of its spellings); "each German city", "how many Italian publishers": on
        the rows grouped or counted."""
        if self.mode is not None and self.mode[0] in ("subject", "top"):
            self.mode = None  # "which suppliers are based in Japan": a condition on them
        if self.mode is not None and self.mode[0] not in ("group", "group_more", "count"):
            raise Unreadable(
                f"`{' '.join(piece.words)}` cannot follow `{self.mode[0]}`", piece.words
            )
        op = "not in_ci" if self.negate else "in_ci"
        self.negate = False
        last = self.plan.conditions[-1] if self.plan.conditions else None
        if (
            last is not None
            and last.hint == f"@{kind}"
            and op in ("in_ci", last.op)
            and (self.pending_column in (None, last.column))
        ):  # "in Texas and California", "not in Spain or Italy": one of them (or none)
            last.value = [*last.value, *piece.data]
        else:
            self.plan.conditions.append(
                Condition(
                    self.pending_column,
                    op,
                    list(piece.data),
                    hint=f"@{kind}",
                    near=self.place_near or self.near,
                )
            )
        self.pending_column = None
        self._note(piece.words, f"a {kind}: {' or '.join(piece.data)} (any case)")

    def _verb(self, piece: Piece, following: Piece | None) -> None:
        self.plan.touch(piece.data)
        self.plan.verbs.append(piece.data)
        self.near = piece.data
        self._note(piece.words, f"rows of {piece.data}")

    def _table(self, piece: Piece, following: Piece | None) -> None:
        table: str = piece.data
        singular_word = piece.words[-1] == singular(piece.words[-1])
        if singular_word and self._describes(piece, following):
            return
        if self._held(piece):
            return
        self.plan.touch(table)
        self.plan.mentioned.append(table)
        self.place_near = table  # "orders of customers in Germany": Germany is the customers'
        mode, data = self.mode or (None, None)
        self.mode = None
        if mode == "count":
            self._count_table(table, piece.words)
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
            self.asked_n = data[0] if data else None  # "which 3 employees", ordered later
        elif mode == "aggregate":
            self.mode = (mode, data)  # "average order amount": the table names the column's
            self._set_entity(table, singular_word)
        else:
            self._set_entity(table, singular_word)
            if mode == "which":
                self.mode = ("subject", (1, None))

    def _held(self, piece: Piece) -> bool:
        """`customers who have placed an order`: the rows that have some of a table that refers
        to them (read like a verb of that table)."""
        table: str = piece.data
        entity = self.plan.entity
        asking = self.mode is not None and self.mode[0] != "subject"
        if not piece.held or asking or entity is None or entity == table:
            return False
        if not _refers(self.catalog, table, entity):
            return False
        self.plan.touch(table)
        self.plan.verbs.append(table)
        self._note(piece.words, f"{entity} that have rows of {table}")
        return True

    def _describes(self, piece: Piece, following: Piece | None) -> bool:
        """A table's noun said before another noun only describes it: "product categories"
        (the categories), "car names" (the names of cars)."""
        table: str = piece.data
        if following is not None and following.kind == "table" and following.data != table:
            self._note(piece.words, f"describes {following.data} (not read as a table)")
            return True
        if (
            following is not None
            and following.kind == "column"
            and piece.next_to(following)
            and any(r.table == table for r in following.data[0])
        ):
            self.upcoming.insert(0, table)
            self._note(piece.words, f"the table of the column that follows: {table}")
            if self.plan.entity is None:
                self.plan.entity = table
            return True
        return False

    def _count_table(self, table: str, words: list[str]) -> None:
        day = _day_column(self.catalog, table) if table == self.day_table else None
        if day is not None:
            self.plan.metrics.append(Metric("count_distinct", day))  # days, not rows
            self._note(words, f"count the distinct {table}.{day.column}")
        else:
            self.plan.metrics.append(Metric("count", table=table))
            self._note(words, f"count the rows of {table}")
        if self.plan.entity is None:
            self.plan.entity = table

    def _group_by_table(self, table: str, words: list[str]) -> None:
        metrics = self.plan.metrics
        averaged = [m for m in metrics if m.function == "avg"]
        if metrics and len(averaged) == len(metrics):
            if all(_metric_table(m) == table for m in averaged):
                # "average freight per order": the average over the rows of orders
                self._note(words, f"over the rows of {table} (an average of each row)")
                return
            if any(m.column is not None and _lines_of(m.column.table, table) for m in averaged):
                # "average quantity per order" over order lines: of a line, or of an order?
                raise Unreadable(
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
        ref = self._pick(self._measured(refs, following), piece.words)
        self.plan.touch(ref.table)
        if (
            self.last is not None
            and self.last.kind == "value"
            and (self.mode is None or self.mode[0] == "subject")
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
        if self._had(ref, mode, piece, following):
            return
        if self.negate and is_temporal(ref) and following is not None and following.kind == "yet":
            # "orders not shipped yet": no date of that event
            self.negate, self.yet_read = False, True
            self.plan.conditions.append(Condition(ref, "is null", None))
            self._note(piece.words, f"not yet: {ref.table}.{ref.column} IS NULL")
            return
        # "by category and country": a group goes on while columns follow.
        self.mode = ("group_more", None) if mode in ("group", "group_more") else None
        if mode in (None, "subject") and following is not None and _fits(ref, following.kind):
            # "which employees were hired in 1993": the column of the condition that follows
            self.pending_column = ref
            return
        if (
            mode in (None, "subject")
            and is_temporal(ref)
            and piece.words[-1].endswith(("ed", "born"))
            and following is not None
            and following.kind in ("country", "value")
        ):  # "orders shipped to Sweden": the event's verb before a place, not its date
            self._note(piece.words, "the event, before where it went")
            return
        readers: dict[str, Callable[[ColumnRef, Any, list[str], bool], None]] = {
            "aggregate": self._column_aggregate,
            "count": self._column_count,
            "group": self._column_group,
            "group_more": self._column_group,
            "sort": self._column_sort,
            "rank": self._column_rank,
            "top": self._column_subject,
            "rank_aggregate": self._column_rank_aggregate,
            "which": self._column_subject,
            "superlative": self._column_superlative,
        }
        reader = readers.get(mode or "")
        if reader is not None:
            reader(ref, data, piece.words, summed)
        elif summed:
            self.plan.metrics.append(Metric("sum", ref))
            self._note(piece.words, f"sum of {ref.table}.{ref.column}")
        else:
            self.plan.projection.append(ref)
            self._note(piece.words, f"the column {ref.table}.{ref.column}")

    def _had(self, ref: ColumnRef, mode: str | None, piece: Piece, following: Piece | None) -> bool:
        """A column of the rows asked about, said after `have`: with a value after it, only
        what the value is of ("customers that have a contact whose title is Owner"); last in
        the question and text, the rows that have one ("which customers have a fax")."""
        entity = self.plan.entity
        if not piece.held or mode not in (None, "subject") or entity is None:
            return False
        if entity != ref.table and not _table_words(entity) < _table_words(ref.table):
            return False  # of another table, not its raw variant
        if following is not None and following.kind == "value":
            self._note(piece.words, f"what each of {ref.table} has")
            return True
        if following is None and _kind(ref) == "text":
            self.plan.conditions.append(Condition(ref, "is not null", None))
            self._note(piece.words, f"{ref.table}.{ref.column} IS NOT NULL")
            return True
        if following is None:  # "which order lines have a discount": above zero, or any?
            raise Unreadable(
                f"`{' '.join(piece.words)}`: more than zero, or any value recorded? Say which.",
                piece.words,
            )
        return False

    def _measure(self, piece: Piece, following: Piece | None) -> None:
        """A measure of the semantic layer: `total revenue`, `revenue by country`, `top 5
        products by revenue`, `average revenue` (of its row expression)."""
        measure: CatalogMeasure = piece.data
        self.plan.touch(measure.table)
        mode: str | None = self.mode[0] if self.mode is not None else None
        data: Any = self.mode[1] if self.mode is not None else None
        self.mode = None
        if mode == "aggregate":
            for function in data if isinstance(data, tuple) else (data,):
                metric = _measure_metric(measure, function, piece.words)
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
            raise Unreadable(
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
        entity = self.plan.entity
        after_entity = (
            mode is None
            and entity is not None
            and (entity == ref.table or _table_words(entity) < _table_words(ref.table))
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

    def _measured(self, refs: list[ColumnRef], following: Piece | None) -> list[ColumnRef]:
        """Of a thing's measurements ("bill": its length and its depth), the one a
        superlative before or a comparison after speaks of ("the longest bill", "a bill
        longer than 50 mm")."""
        word = None
        if self.mode is not None and self.mode[0] == "aggregate" and self.mode[1] in ("max", "min"):
            # "the highest temperature": of the daily maxima
            extreme = [r for r in refs if self.mode[1] in name_parts(r.column)]
            return extreme if len(extreme) == 1 else refs
        if self.mode is not None and self.mode[0] == "superlative":
            word = self.mode[1][0]
        elif following is not None and following.kind == "compare":
            word = following.data[3]
        if len(refs) < 2 or not isinstance(word, str) or word.startswith("@"):
            return refs
        fitting = [r for r in refs if word in name_parts(r.column)]
        return fitting or refs

    def _pick(self, refs: list[ColumnRef], words: list[str]) -> ColumnRef:
        if len(refs) == 1:
            return refs[0]
        named = [r for r in refs if name_parts(r.column) == [singular(w) for w in words]]
        if len(named) == 1 and named[0].table in (
            self.plan.entity,
            *self.upcoming,
            *self.value_tables,
        ):
            return named[0]  # "each title" of employees: the column named so, not a synonym
        for table in [self.plan.entity, *self.upcoming, *self.plan.tables]:
            mine = [r for r in refs if r.table == table]
            if len(mine) == 1:
                return mine[0]
        others = [
            t for t in [self.plan.entity, *self.upcoming, *self.value_tables] if t is not None
        ]
        if others:
            # "average unit price per category": the unit price of the table with a category
            linked = [r for r in refs if all(_refers(self.catalog, r.table, t) for t in others)]
            if len(linked) == 1:
                return linked[0]
        canonical = _canonical(self.catalog, refs, lambda r: r.table)
        if canonical is not None:
            self._note(
                words,
                f"read as {canonical.table}.{canonical.column} (the table of its own, not a copy)",
            )
            return canonical
        raise Unreadable(
            f"`{' '.join(words)}` is a column of several tables: "
            + ", ".join(f"{r.table}.{r.column}" for r in refs),
            words,
        )

    def _column_aggregate(
        self, ref: ColumnRef, function: str | tuple[str, ...], words: list[str], _: bool
    ) -> None:
        if isinstance(function, tuple):
            for one in function:
                self._column_aggregate(ref, one, words, _)
            return
        if function in ("sum", "avg", "spread") and not is_numeric(ref):
            raise Unreadable(f"{function} of {ref.column}: it is not a number", words)
        self.plan.metrics.append(Metric(function, ref))
        self._note(words, f"{function} of {ref.table}.{ref.column}")

    def _column_count(self, ref: ColumnRef, distinct: bool, words: list[str], _: bool) -> None:
        if not distinct and is_temporal(ref):
            # "how many egg dates in 2009": the different days, or the rows with one?
            raise Unreadable(
                f"`{' '.join(words)}`: how many different ones, or how many rows with one?", words
            )
        if not distinct and is_numeric(ref) and tuple(words) in _COUNTED_UNITS:
            # "how many units were sold": the units of the rows added up, not the rows
            self.plan.metrics.append(Metric("sum", ref))
            self._note(words, f"sum of {ref.table}.{ref.column}")
            return
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
            raise Unreadable(f"`{' '.join(words)}`: top what?", words)
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
        if not summed and not self.plan.metrics and not self._adds_up(ref):
            raise Unreadable(f"`{' '.join(words)}`: the total, the average or the maximum?", words)
        total = summed or not self.plan.metrics
        self._rank(Metric("sum", ref) if total else self.plan.metrics[-1], data, words)

    def _adds_up(self, ref: ColumnRef) -> bool:
        """Whether "the most" of a number column ranks its totals: a count of things (`units
        in stock`), or an amount over a period ("which month had the most rain") unless it is
        one that is averaged, never added up (a price, a rate, a speed, a temperature)."""
        periods = any(isinstance(g, str) and g.startswith("@") for g in self.plan.groups)
        added = periods and not set(name_parts(ref.column)) & LEVEL_WORDS
        return is_numeric(ref) and self.amount and (added or counts_things(ref.column))

    def _column_rank_aggregate(self, ref: ColumnRef, data: Any, words: list[str], _: bool) -> None:
        function, rank = data
        if function in ("sum", "avg") and not is_numeric(ref):
            raise Unreadable(f"{function} of {ref.column}: it is not a number", words)
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
        self._note(
            words,
            f"ordered by {metric.label()}, {'highest' if descending else 'lowest'} first{kept}",
        )

    def _column_superlative(self, ref: ColumnRef, data: Any, words: list[str], _: bool) -> None:
        _, descending, n = data
        if self.plan.groups and not self.plan.metrics and is_numeric(ref):
            # "which site had the longest wing": the site of the extreme, not each site's
            function = "max" if descending else "min"
            self._rank(Metric(function, ref), (descending, n or 1), words)
            return
        if self.plan.entity == ref.table and is_numeric(ref):
            # "the 3 penguins with the longest bills": the rows in that order
            self.plan.order.append((ref, descending))
            self.plan.limit = n if n is not None else (1 if self.plan.singular_entity else None)
            self._note(words, f"ordered by {ref.column}, {'highest' if descending else 'lowest'}")
            return
        if n is None and self.plan.entity is None and is_numeric(ref):
            # "the coldest minimum temperature": its lowest value
            self._column_aggregate(ref, "max" if descending else "min", words, False)
            return
        raise Unreadable(f"`{' '.join(words)}` after a superlative: of what?", words)

    def _superlative_order(self, data: Any, words: list[str], table: str) -> None:
        word, descending, *rest = data
        n = rest[0] if rest else None
        ref = _implicit_column(self.catalog, table, word) or _extreme_column(
            self.catalog, table, word, descending
        )
        if ref is None:
            raise Unreadable(f"`{' '.join(words)}`: {table} has no such column", words)
        self.plan.order.append((ref, descending))
        self.plan.limit = n if n is not None else (1 if self.plan.singular_entity else None)
        self._note(words, f"ordered by {ref.column}, {'highest' if descending else 'lowest'}")


def _is_key(ref: ColumnRef) -> bool:
    return name_parts(ref.column)[-1:] == ["id"]


def _piece_tables(piece: Piece) -> set[str]:
    """The tables a piece names: a table, a column's, a value's, a measure's."""
    if piece.kind in ("table", "verb"):
        return {piece.data}
    if piece.kind == "column":
        return {r.table for r in piece.data[0]}
    if piece.kind == "value":
        return {r.table for r, _ in piece.data}
    if piece.kind == "measure":
        return {piece.data.table}
    if piece.kind == "superlative" and len(piece.data) > 2:
        return {r.table for r in piece.data[2]}
    return set()


def _day_column(catalog: PromptCatalog, table: str) -> ColumnRef | None:
    """The column that is each row's day: named `date` or `day`, a date or dated text."""
    found = catalog.table(table)
    columns = [c for c in found.columns if c.name.casefold() in ("date", "day")] if found else []
    if len(columns) != 1 or not (found and _is_datelike(columns[0])):
        return None
    return column_ref(table, columns[0])


def _is_datelike(column: CatalogColumn) -> bool:
    return type_class(column.type) == "temporal" or column.role == "time_dimension"


def _metric_table(metric: Metric) -> str | None:
    """The table whose rows a metric is over: its column's, or its measure's."""
    if metric.column is not None:
        return metric.column.table
    return metric.measure.table if metric.measure is not None else metric.table


def _measure_metric(measure: CatalogMeasure, function: str, words: list[str]) -> Metric:
    """The measure as defined (`total revenue`: a sum is the measure itself), or ``function``
    over its row expression (`average revenue`)."""
    if function == "sum" or function == measure.aggregation:
        return Metric("measure", table=measure.table, measure=measure)
    if function in ("avg", "min", "max") and measure.aggregation in ("sum", "avg", "min", "max"):
        return Metric(function, table=measure.table, measure=measure)
    raise Unreadable(
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


def _table_words(name: str) -> set[str]:
    return {singular(w) for w in re.split(r"[\s_\-]+", name.lower()) if w}


_T = TypeVar("_T")


def _canonical(
    catalog: PromptCatalog, options: list[_T], table_of: Callable[[_T], str]
) -> _T | None:
    """Of like options in several tables, the one of the table that holds it as its own: not
    a variant of it whose name adds words (`penguins-raw` of `penguins`, `orders_2023` of
    `orders`), nor a table that refers to it and so holds a copy (an order line's unit price,
    of the product's). None when that does not single one out."""
    tables = list(dict.fromkeys(table_of(o) for o in options))
    if len(tables) < 2:
        return None
    words = {t: _table_words(t) for t in tables}
    copies = {
        t
        for t in tables
        for u in tables
        if t != u and (words[u] < words[t] or _refers(catalog, t, u))
    }
    kept = [o for o in options if table_of(o) not in copies]
    return kept[0] if len(kept) == 1 else None


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


def _kind(ref: ColumnRef) -> str:
    return "date" if is_temporal(ref) else "number" if is_numeric(ref) else "text"


def _fits(ref: ColumnRef, kind: str) -> bool:
    """Whether a condition piece applies to the column named just before it."""
    if kind == "column_compare":
        return True
    if kind == "date":
        return is_temporal(ref)
    if kind in ("compare", "range"):
        return is_numeric(ref)
    if kind in ("country", "state"):  # "the state of Texas"
        return not is_numeric(ref) and kind in name_parts(ref.column)
    return kind == "text" and not is_numeric(ref) and not is_temporal(ref)


def _extreme_column(
    catalog: PromptCatalog, table: str, word: str, descending: bool
) -> ColumnRef | None:
    """Of a measurement kept as its daily maximum and minimum (`temp_max`, `temp_min`), the
    one a superlative goes the way of: the hottest day by its maximum, the coldest by its
    minimum."""
    found = catalog.table(table)
    if found is None or word.startswith("@"):
        return None
    refs = [column_ref(table, c) for c in found.columns if word in name_parts(c.name)]
    wanted = {"max", "maximum", "high"} if descending else {"min", "minimum", "low"}
    fitting = [r for r in refs if is_numeric(r) and wanted & set(name_parts(r.column))]
    return fitting[0] if len(fitting) == 1 else None


def _implicit_column(catalog: PromptCatalog, table: str, word: str | None) -> ColumnRef | None:
    """The column of ``table`` a word, a unit or a superlative speaks of: `@money`, `@date`,
    `@weight`, or a column word such as `price`."""
    found = catalog.table(table)
    if found is None or word is None:
        return None
    return implicit_in(found, word)


_MONEY_NAMES = ("amount", "price", "total", "revenue", "cost", "value")


def implicit_in(table: CatalogTable, word: str) -> ColumnRef | None:
    refs = [column_ref(table.name, c) for c in table.columns]
    if word in ("@money", "money"):
        found = [r for r in refs if is_numeric(r) and r.column.split("_")[0] in _MONEY_NAMES]
    elif word == "@age":  # "the oldest employee": the earliest birth date, else the @date
        born = [r for r in refs if is_temporal(r) and {"birth", "born"} & set(name_parts(r.column))]
        return born[0] if len(born) == 1 else implicit_in(table, "@date")
    elif word == "@date":
        # A date, else a whole year held as a number (`year`, `model_year`).
        found = [r for r in refs if is_temporal(r)] or [r for r in refs if is_year(r)]
        if len(found) > 1:
            # `orders` with orderDate, requiredDate, shippedDate: the date of the order itself
            own = singular(table.name.lower().replace("-", " ").split()[-1])
            found = [r for r in found if own in name_parts(r.column)] or [
                r for r in found if name_parts(r.column) == ["date"]
            ]
    elif word in ("@weight", "weight"):
        found = [
            r
            for r in refs
            if is_numeric(r) and {"weight", "kg", "mass"} & set(name_parts(r.column))
        ]
    elif word == "@key":  # the column that identifies the table's rows by its name
        noun = [singular(w) for w in re.split(r"[\s_\-]+", table.name.lower()) if w]
        found = [r for r in refs if name_parts(r.column) == [*noun, "id"]]
    elif word in ("@country", "@state"):
        found = [r for r in refs if not is_numeric(r) and word[1:] in name_parts(r.column)]
    elif word.startswith("@unit:"):
        found = [r for r in refs if is_numeric(r) and word[6:] in name_parts(r.column)]
    else:  # a word of the name, or what a part of it abbreviates (`lat`: latitude)
        found = [r for r in refs if word in _spelled_parts(r.column)]
    return found[0] if len(found) == 1 else None


def _spelled_parts(name: str) -> set[str]:
    """The words of a column's name, and the words its abbreviations stand for."""
    parts = name_parts(name)
    return {*parts, *(w for p in parts for w in ABBREVIATIONS.get(p, ()))}
