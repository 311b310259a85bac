"""Words of a question: tokens, numbers with their units, dates, and the catalog's vocabulary.

The vocabulary is built from the catalog alone: table and column names (singular and plural,
underscores as spaces, the parts of a compound name), a short list of common synonyms keyed by
the words of column names (``revenue`` for an ``amount``, ``town`` for a ``city``), the
values a text column declares (a short list read like the catalog's words; a long one, the
names of things, only as written: :class:`Names`), and what the workspace's semantic layer adds: the
business names and synonyms of tables and columns, and its measures by name and synonym.
Misspellings are matched with :mod:`difflib` (a close-enough ratio on words of four letters or
more); nothing else is guessed.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field
from datetime import date

from rivergen.engine.spec import type_class
from rivergen.services.planning.catalog import (
    CatalogColumn,
    CatalogMeasure,
    CatalogTable,
    PromptCatalog,
)

FUZZY_RATIO = 0.84
FUZZY_MIN_LENGTH = 4

MONTHS = {
    name: i + 1
    for i, name in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ]
    )
}
MONTHS |= {name[:3]: number for name, number in list(MONTHS.items())} | {"sept": 9}
NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "fifty": 50,
    "hundred": 100,
}
MULTIPLIERS = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "million": 1_000_000}
MONEY_WORDS = frozenset({"dollars", "dollar", "usd", "euros", "euro", "eur", "bucks", "$"})
WEIGHT_WORDS = frozenset({"kg", "kgs", "kilos", "kilo", "kilograms", "kilogram"})

# Synonyms by a word of a column's name (and of a table's name). Read: a column whose name has
# the word on the left is also called by the words on the right.
COLUMN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "amount": (
        "revenue",
        "sales",
        "turnover",
        "spend",
        "spending",
        "order value",
        "value",
        "order amount",
        "order total",
        "total amount",
    ),
    "price": ("cost", "unit price", "list price", "prices", "costs"),
    "weight": ("weight", "weights", "mass"),
    "mass": ("weight", "weights", "mass"),
    "quantity": ("units", "qty", "pieces", "quantities", "items sold", "units sold"),
    "city": ("town", "cities", "towns"),
    "country": ("nation", "countries", "nations"),
    "segment": ("segments", "customer segment", "customer type"),
    "category": ("categories", "product category", "product type", "type", "kind"),
    "status": ("state", "statuses", "order status"),
    "channel": ("channels", "sales channel"),
    "email": ("emails", "e-mail", "e-mails", "mail", "email address", "email addresses"),
    "phone": ("phones", "telephone", "phone number", "phone numbers"),
    "name": ("names", "title"),
    "signup": ("signed up", "signup", "sign up", "joined", "registered", "registration"),
}
# The words of COLUMN_SYNONYMS that name amounts: their synonyms are a number column's only.
NUMERIC_CONCEPTS = frozenset({"amount", "price", "weight", "mass", "quantity"})
TABLE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer": ("client", "clients", "buyer", "buyers", "shopper", "shoppers"),
    "product": ("item", "items", "article", "articles", "goods"),
    "order": ("purchase", "purchases"),
}
# Verbs that speak of a table's rows ("customers who ordered in 2024"): by the table's word.
TABLE_VERBS: dict[str, tuple[str, ...]] = {
    "order": ("ordered", "bought", "purchased", "sold", "buy", "purchase", "ordering"),
}
# Units and unit-like suffixes of column names, dropped when a name is said.
UNIT_WORDS = frozenset(
    {
        "mm",
        "cm",
        "m",
        "km",
        "g",
        "kg",
        "lb",
        "lbs",
        "oz",
        "ft",
        "usd",
        "eur",
        "pct",
        "o",
        "oo",
        "ms",
        "sec",
        "secs",
        "kmh",
        "mph",
        "degc",
        "degf",
    }
)
# Units said after a number, as column names abbreviate them.
SPOKEN_UNITS = {
    "g": "g",
    "gram": "g",
    "grams": "g",
    "mm": "mm",
    "millimeter": "mm",
    "millimeters": "mm",
    "millimetre": "mm",
    "millimetres": "mm",
    "cm": "cm",
    "centimeter": "cm",
    "centimeters": "cm",
    "centimetre": "cm",
    "centimetres": "cm",
    "lbs": "lbs",
    "lb": "lbs",
    "pounds": "lbs",
    "km": "km",
    "kilometers": "km",
    "kilometres": "km",
}
# Units a total or an average may be asked in ("in kilograms"), and the factors between the
# units column names abbreviate.
CONVERTED_UNITS = {
    "kilograms": "kg",
    "kilogram": "kg",
    "kg": "kg",
    "kilos": "kg",
    "grams": "g",
    "gram": "g",
    "centimetres": "cm",
    "centimeters": "cm",
    "cm": "cm",
    "millimetres": "mm",
    "millimeters": "mm",
    "metres": "m",
    "meters": "m",
    "pounds": "lbs",
    "lbs": "lbs",
}
CONVERSIONS = {
    ("g", "kg"): 0.001,
    ("kg", "g"): 1000.0,
    ("mm", "cm"): 0.1,
    ("cm", "mm"): 10.0,
    ("mm", "m"): 0.001,
    ("cm", "m"): 0.01,
    ("m", "cm"): 100.0,
    ("lbs", "kg"): 0.45359237,
    ("kg", "lbs"): 1 / 0.45359237,
    ("g", "lbs"): 0.001 / 0.45359237,
}
# Country names, for a column named `country` whose values the catalog does not list: each
# with the spellings data commonly uses (compared case-insensitively).
COUNTRIES: dict[tuple[str, ...], tuple[str, ...]] = {
    tuple(k.split()): v
    for k, v in {
        "germany": ("germany",),
        "france": ("france",),
        "japan": ("japan",),
        "sweden": ("sweden",),
        "spain": ("spain",),
        "italy": ("italy",),
        "brazil": ("brazil",),
        "mexico": ("mexico",),
        "canada": ("canada",),
        "argentina": ("argentina",),
        "austria": ("austria",),
        "belgium": ("belgium",),
        "denmark": ("denmark",),
        "finland": ("finland",),
        "ireland": ("ireland",),
        "norway": ("norway",),
        "poland": ("poland",),
        "portugal": ("portugal",),
        "switzerland": ("switzerland",),
        "venezuela": ("venezuela",),
        "china": ("china",),
        "india": ("india",),
        "australia": ("australia",),
        "netherlands": ("netherlands", "the netherlands"),
        "singapore": ("singapore",),
        "greece": ("greece",),
        "turkey": ("turkey",),
        "usa": ("usa", "us", "united states", "united states of america"),
        "united states": ("usa", "us", "united states", "united states of america"),
        "america": ("usa", "us", "united states", "united states of america"),
        "uk": ("uk", "united kingdom", "great britain"),
        "united kingdom": ("uk", "united kingdom", "great britain"),
        "britain": ("uk", "united kingdom", "great britain"),
    }.items()
}
# What people call a country's things ("German customers"): the country's key in COUNTRIES.
DEMONYMS = {
    "german": "germany",
    "french": "france",
    "japanese": "japan",
    "swedish": "sweden",
    "spanish": "spain",
    "italian": "italy",
    "brazilian": "brazil",
    "mexican": "mexico",
    "canadian": "canada",
    "argentinian": "argentina",
    "argentine": "argentina",
    "austrian": "austria",
    "belgian": "belgium",
    "danish": "denmark",
    "finnish": "finland",
    "irish": "ireland",
    "norwegian": "norway",
    "portuguese": "portugal",
    "swiss": "switzerland",
    "venezuelan": "venezuela",
    "chinese": "china",
    "australian": "australia",
    "dutch": "netherlands",
    "greek": "greece",
    "american": "usa",
    "british": "uk",
}
COUNTRIES |= {(adjective,): COUNTRIES[(country,)] for adjective, country in DEMONYMS.items()}
# The states of the United States, for a column named `state` whose values the catalog does
# not list whole: each by its name, read as its postal code or its name (any case).
US_STATES: dict[tuple[str, ...], tuple[str, ...]] = {
    tuple(name.split()): (code.lower(), name)
    for code, name in (
        ("AL", "alabama"),
        ("AK", "alaska"),
        ("AZ", "arizona"),
        ("AR", "arkansas"),
        ("CA", "california"),
        ("CO", "colorado"),
        ("CT", "connecticut"),
        ("DE", "delaware"),
        ("FL", "florida"),
        ("GA", "georgia"),
        ("HI", "hawaii"),
        ("ID", "idaho"),
        ("IL", "illinois"),
        ("IN", "indiana"),
        ("IA", "iowa"),
        ("KS", "kansas"),
        ("KY", "kentucky"),
        ("LA", "louisiana"),
        ("ME", "maine"),
        ("MD", "maryland"),
        ("MA", "massachusetts"),
        ("MI", "michigan"),
        ("MN", "minnesota"),
        ("MS", "mississippi"),
        ("MO", "missouri"),
        ("MT", "montana"),
        ("NE", "nebraska"),
        ("NV", "nevada"),
        ("NH", "new hampshire"),
        ("NJ", "new jersey"),
        ("NM", "new mexico"),
        ("NY", "new york"),
        ("NC", "north carolina"),
        ("ND", "north dakota"),
        ("OH", "ohio"),
        ("OK", "oklahoma"),
        ("OR", "oregon"),
        ("PA", "pennsylvania"),
        ("RI", "rhode island"),
        ("SC", "south carolina"),
        ("SD", "south dakota"),
        ("TN", "tennessee"),
        ("TX", "texas"),
        ("UT", "utah"),
        ("VT", "vermont"),
        ("VA", "virginia"),
        ("WA", "washington"),
        ("WV", "west virginia"),
        ("WI", "wisconsin"),
        ("WY", "wyoming"),
        ("DC", "district of columbia"),
    )
}
# Abbreviations of column names and what they stand for.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "temp": ("temperature",),
    "max": ("maximum",),
    "min": ("minimum",),
    "avg": ("average",),
    "qty": ("quantity",),
    "num": ("number",),
    "precip": ("precipitation",),
    "pct": ("percent",),
    "lat": ("latitude",),
    "lon": ("longitude",),
    "lng": ("longitude",),
    "desc": ("description",),
    "addr": ("address",),
    "dept": ("department",),
    "amt": ("amount",),
    "cnt": ("count",),
    "mpg": ("miles per gallon",),
    "hp": ("horsepower",),
}
_EXTREMES = frozenset({"max", "min", "maximum", "minimum"})
_EXTREMES_SPELLED = _EXTREMES
# The last word of a table of lines of another (`order_items`): its rows are also "lines".
LINE_WORDS = frozenset({"detail", "item", "line", "entry", "entrie"})
# Words of a number that is averaged rather than added up (a price, a rate): "how much" of
# it is no total.
AVERAGED_WORDS = frozenset(
    {
        "price",
        "rate",
        "discount",
        "percent",
        "pct",
        "ratio",
        "share",
        "score",
        "age",
        "margin",
        "avg",
        "average",
        "mean",
    }
)
# Words of a level rather than an amount: a day's wind or temperature adds up to nothing, so
# "the month with the most wind" is no monthly total.
LEVEL_WORDS = AVERAGED_WORDS | {"speed", "wind", "temp", "temperature", "humidity", "pressure"}
# Measures whose bare mention means their total ("revenue by country").
SUMMED_SYNONYMS = frozenset({"revenue", "sales", "turnover", "spend", "spending"})


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def plural(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


@dataclass(frozen=True)
class Token:
    text: str
    kind: str = "word"  # word | number | date | quoted | symbol
    value: object = None
    unit: str | None = None  # money | weight, for numbers
    cased: str = ""  # a word as the question wrote it (`LAX`, `Chai`); empty: not known


_TOKEN = re.compile(
    r"""(?P<quoted>'[^']*'|"[^"]*")
      | (?P<date>\d{4}-\d{2}-\d{2})
      | (?P<money>\$\s*\d[\d,]*(?:\.\d+)?\s*(?:k|m|thousand|million)?\b)
      | (?P<number>\d[\d,]*(?:\.\d+)?\s*(?:k|m|thousand|million|kg|kgs)?\b)
      | (?P<symbol>>=|<=|!=|<>|[<>=])
      | (?P<word>[a-z][a-z0-9_'\-]*)
      | (?P<other>\S)""",
    re.VERBOSE,
)


def _number(text: str) -> tuple[float | int, str | None]:
    unit = None
    text = text.strip()
    if text.startswith("$"):
        unit, text = "money", text[1:].strip()
    match = re.fullmatch(r"([\d,]+(?:\.\d+)?)\s*([a-z]*)", text)
    assert match is not None
    value = float(match.group(1).replace(",", ""))
    suffix = match.group(2)
    if suffix in MULTIPLIERS:
        value *= MULTIPLIERS[suffix]
    elif suffix in ("kg", "kgs"):
        unit = "weight"
    return (int(value) if value.is_integer() else value), unit


def tokenize(question: str) -> tuple[list[Token], list[str]]:
    """Tokens of a question, and the characters that are no part of any token."""
    tokens: list[Token] = []
    stray: list[str] = []
    written = question.strip().replace("\u2019", "'")
    text = written.lower()
    same = len(text) == len(written)  # each character where the question has it
    text = re.sub(r"(?<=\d)-(?=[a-z])", " ", text)  # "4-cylinder cars": 4 cylinder
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        text = match.group()
        if kind == "quoted":
            original = question[match.start() + 1 : match.end() - 1]
            tokens.append(Token(text, "quoted", original))
        elif kind == "date":
            tokens.append(Token(text, "date", date.fromisoformat(text)))
        elif kind in ("money", "number"):
            value, unit = _number(text)
            tokens.append(Token(text.strip(), "number", value, unit))
        elif kind == "symbol":
            tokens.append(Token(text, "symbol"))
        elif kind == "word":
            word = text.strip("'-").removesuffix("'s")
            start = match.start() + len(text) - len(text.lstrip("'-"))
            cased = written[start : start + len(word)] if same else ""
            tokens.append(Token(word, cased=cased))
        elif text not in ",.?!:()":
            stray.append(text)
    return _merge_multipliers(tokens), stray


def _merge_multipliers(tokens: list[Token]) -> list[Token]:
    """`2 thousand`, `five hundred`, `10 dollars`, `3 kg` as one number with its unit."""
    out: list[Token] = []
    for token in tokens:
        previous = out[-1] if out else None
        if (
            token.kind == "word"
            and token.text in NUMBER_WORDS
            and not (previous is not None and previous.kind == "number")
        ):
            out.append(Token(token.text, "number", NUMBER_WORDS[token.text]))
            continue
        if previous is not None and previous.kind == "number" and token.kind == "word":
            factor = MULTIPLIERS.get(token.text) or (100 if token.text == "hundred" else None)
            unit = (
                "money"
                if token.text in MONEY_WORDS
                else "weight"
                if token.text in WEIGHT_WORDS
                else None
            )
            if factor is not None or unit is not None:
                assert isinstance(previous.value, int | float)
                value = previous.value * (factor or 1)
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                out[-1] = Token(
                    f"{previous.text} {token.text}", "number", value, unit or previous.unit
                )
                continue
        out.append(token)
    return out


@dataclass(frozen=True)
class ColumnRef:
    table: str
    column: str
    type: str
    parse: str | None = None  # a date held as text: its strptime format (read as a date)
    # A value computed from two number columns of the table: (operator, left, right).
    formula: tuple[str, ColumnRef, ColumnRef] | None = None


def column_ref(table: str, column: CatalogColumn) -> ColumnRef:
    """A column as the grammar reads it: a date held as text, with its format known, is a
    date."""
    if column.date_format and type_class(column.type) == "string":
        return ColumnRef(table, column.name, "timestamp[us]", column.date_format)
    return ColumnRef(table, column.name, column.type)


SPELLED_VALUES = 50
"""A text column with at most this many hinted values has them read like the catalog's words
(a close spelling, an adjective `rainy`, the phrase `weather type`); a longer list, the names
of things (products, people, airports), is read only as written (:class:`Names`)."""


@dataclass(frozen=True)
class Names:
    """The catalog's hinted values by the words a question has for them (as :func:`tokenize`
    reads them: lower case, `'s` dropped), built once per catalog. A short list's values are
    also read like the catalog's words (``Vocabulary.values``); a long list's only here."""

    phrases: dict[tuple[str, ...], list[tuple[ColumnRef, str]]]
    longest: int
    words: frozenset[str]


@functools.lru_cache(maxsize=16)
def names_of(columns: tuple[tuple[ColumnRef, tuple[str, ...]], ...]) -> Names:
    """The lookup index of the values ``columns`` hold (column, values); a value the tokenizer
    cannot read whole (`0AK`) is left out."""
    phrases: dict[tuple[str, ...], list[tuple[ColumnRef, str]]] = {}
    for ref, values in columns:
        for value in values:
            tokens, stray = tokenize(value)
            phrase = tuple(t.text for t in tokens)
            if phrase and not stray and len(phrase) <= MAX_NAME_WORDS:
                found = phrases.setdefault(phrase, [])
                if (ref, value) not in found:
                    found.append((ref, value))
    longest = max((len(p) for p in phrases), default=0)
    return Names(phrases, longest, frozenset(w for p in phrases for w in p))


MAX_NAME_WORDS = 8
"""Longer values (comments, addresses, descriptions) are not names a question says whole."""


@dataclass
class Vocabulary:
    """Phrases (tuples of words) of the catalog: tables, columns and declared values."""

    tables: dict[tuple[str, ...], str] = field(default_factory=dict)
    columns: dict[tuple[str, ...], list[ColumnRef]] = field(default_factory=dict)
    values: dict[tuple[str, ...], list[tuple[ColumnRef, str]]] = field(default_factory=dict)
    measures: dict[tuple[str, ...], CatalogMeasure] = field(default_factory=dict)
    summed: set[tuple[str, ...]] = field(default_factory=set)
    verbs: dict[tuple[str, ...], str] = field(default_factory=dict)
    longest: int = 1
    names: Names = field(default_factory=lambda: Names({}, 0, frozenset()))
    common: frozenset[str] | None = None  # the words no name is read from uncapitalized
    # Words of one table's compound name said alone (`seattle` of `seattle-weather`).
    table_words: set[tuple[str, ...]] = field(default_factory=set)

    def _add_column(self, phrase: tuple[str, ...], ref: ColumnRef) -> None:
        refs = self.columns.setdefault(phrase, [])
        if ref not in refs:
            refs.append(ref)
        self.longest = max(self.longest, len(phrase))

    def words(self) -> set[str]:
        """Every word of the catalog's phrases: tables, columns, values, measures, verbs."""
        phrases = [*self.tables, *self.columns, *self.values, *self.measures, *self.verbs]
        return {w for phrase in phrases for w in phrase}

    def match(self, words: list[str], kind: str) -> tuple[int, object, bool] | None:
        """The longest phrase of ``kind`` (tables, columns, values) at the start of ``words``:
        (words used, what it names, whether exactly); exact first, then a close spelling of
        a single word."""
        index: dict[tuple[str, ...], object] = getattr(self, kind)
        for n in range(min(self.longest, len(words)), 0, -1):
            phrase = tuple(words[:n])
            if phrase in index:
                return n, index[phrase], True
        # Only single words are matched by spelling: a phrase's words are matched exactly.
        found = _close(words[0], index) if words else None
        if found is not None and len(found) == 1:
            return 1, index[found], False
        return None


def _close(text: str, index: dict[tuple[str, ...], object]) -> tuple[str, ...] | None:
    if len(text) < FUZZY_MIN_LENGTH:
        return None
    choices = {" ".join(p): p for p in index if len(" ".join(p)) >= FUZZY_MIN_LENGTH}
    best = difflib.get_close_matches(text, list(choices), n=2, cutoff=FUZZY_RATIO)
    if not best:
        return None
    if len(best) == 2 and difflib.SequenceMatcher(None, text, best[1]).ratio() == (
        difflib.SequenceMatcher(None, text, best[0]).ratio()
    ):
        return None  # two equally close: do not pick one
    return choices[best[0]]


def name_parts(name: str) -> list[str]:
    """The words of a name: `weight_kg` -> weight, kg; `unitPrice` -> unit, price;
    `categoryID` -> category, id."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    return [w.lower() for w in words]


def _column_phrases(
    column: CatalogColumn, table: CatalogTable, table_words: set[str]
) -> set[tuple[str, ...]]:
    parts = name_parts(column.name)
    phrases = {tuple(parts), (column.name.lower(),)}
    if parts:
        last = parts[-1]
        phrases.add((*parts[:-1], plural(last)))
    generic = {"id", "kg", "date", "at", "on", "usd"}
    meaningful = [p for p in parts if p not in generic]
    table_word = singular(table.name.lower())
    if len(meaningful) == 1 and meaningful != parts and meaningful[0] not in table_words:
        phrases.add((meaningful[0],))
        phrases.add((plural(meaningful[0]),))
    if parts and parts[0] == table_word and len(parts) > 1:
        phrases.add(tuple(parts[1:]))
    for part in parts:
        if part in NUMERIC_CONCEPTS and type_class(column.type) != "numeric":
            continue  # `quantityPerUnit`, a text ("10 boxes x 20 bags"): not "units"
        for synonym in COLUMN_SYNONYMS.get(part, ()):
            phrases.add(tuple(synonym.split()))
    phrases |= _spoken_phrases(parts)
    phrases |= _event_verbs(parts, column.type)
    phrases |= _measured_things(parts, table_words)
    plain = [p for p in parts if p not in _EXTREMES]
    if len(plain) < len(parts) and plain and type_class(column.type) == "numeric":
        # `temp_max` is also "the temperature": which extreme, the words around it say
        phrases |= _spoken_phrases(plain)
    phrases |= _placed(parts, column.type)
    phrases |= _amount_phrases(parts, column.type)
    phrases |= _count_phrases(parts, column.type)
    phrases |= _done_phrases(parts, column)
    if len(parts) == 2 and parts[0] in ("date", "time"):  # `Date Egg`: the egg date
        phrases |= {(parts[1], parts[0]), (parts[1], plural(parts[0]))}
    if 0 < len(column.values) <= SPELLED_VALUES:  # "weather type", "the kinds of weather"
        phrases |= {(*parts, kind) for kind in ("type", "types", "kind", "kinds")}
    return phrases | _layer_names(column.business_name, column.synonyms)


# Nouns of events whose verb is not spelled from them.
_EVENT_VERBS = {"birth": ("born",), "death": ("died",), "sale": ("sold",), "sell": ("sold",)}
_DATE_WORDS = frozenset({"date", "time", "day", "at", "on"})


# Words of what is measured of a thing: `bill_length_mm` is the bill's length.
MEASUREMENTS = frozenset(
    {
        "length",
        "depth",
        "width",
        "height",
        "mass",
        "weight",
        "size",
        "area",
        "volume",
        "diameter",
        "thickness",
    }
)


def _measured_things(parts: list[str], table_words: set[str]) -> set[tuple[str, ...]]:
    """The thing a measurement column measures, said alone: `bill_length_mm` "bill",
    "bills"; which of its measurements is then read from the words around it ("the longest
    bill": its length)."""
    core = [p for p in parts if p not in UNIT_WORDS]
    if len(core) != 2 or core[1] not in MEASUREMENTS or len(core[0]) < 3:
        return set()
    if core[0] in table_words or core[0] in MEASUREMENTS:
        return set()
    return {(core[0],), (plural(core[0]),)}


def _event_verbs(parts: list[str], kind: str) -> set[tuple[str, ...]]:
    """A date of an event said with its verb: `hireDate` "hired", `birthDate` "born",
    `shippedDate` "shipped"; verbs that name a table's rows (`ordered`) stay theirs."""
    if type_class(kind) != "temporal" or len(parts) != 2 or parts[1] not in _DATE_WORDS:
        return set()
    noun = parts[0]
    verbs = set(_EVENT_VERBS.get(noun, ()))
    if verbs:
        pass
    elif noun.endswith("e"):
        verbs.add(noun + "d")
    elif not noun.endswith("ed") and noun.isalpha() and len(noun) >= 3:
        double = noun[-1] not in "aeiouwy" and noun[-2] in "aeiou" and noun[-3] not in "aeiou"
        verbs.add(noun + (noun[-1] if double and len(noun) <= 4 else "") + "ed")
    taken = {v for forms in TABLE_VERBS.values() for v in forms}
    return {(v,) for v in verbs if v not in taken}


AMOUNT_NOUNS = ("amount", "amounts", "charge", "charges", "cost", "costs", "fee", "fees")
"""Nouns said after an amount's one-word name that add nothing to it ("the freight charge",
"the tax amount")."""


def _amount_phrases(parts: list[str], kind: str) -> set[tuple[str, ...]]:
    """A number column named by one word, said with a noun of amounts after it (`freight`:
    "freight charge", "freight cost"); not one that is averaged (a price, a rate)."""
    spoken = [p for p in parts if p not in UNIT_WORDS]
    if type_class(kind) != "numeric" or len(spoken) != 1 or spoken[0] in AVERAGED_WORDS:
        return set()
    return {(spoken[0], noun) for noun in AMOUNT_NOUNS}


def _done_phrases(parts: list[str], column: CatalogColumn) -> set[tuple[str, ...]]:
    """A yes/no column named by a thing and what was done to it (`Clutch Completion`,
    `Payment Confirmation`) said by the deed: "completed the clutch", "complete clutch",
    "confirmed payment"."""
    yes_no = column.role == "boolean" or {v.casefold() for v in column.values} == {"yes", "no"}
    if not yes_no or len(parts) != 2 or not parts[1].endswith("tion") or len(parts[1]) < 7:
        return set()
    thing, deed = parts[0], parts[1]
    if deed.endswith("ation"):  # confirmation: confirm, confirmed
        verbs = {deed[:-5], deed[:-5] + "ed"}
    else:  # completion: complete, completed
        verbs = {deed[:-3] + "e", deed[:-3] + "ed"}
    return {(verb, thing) for verb in verbs} | {(thing, verb) for verb in verbs}


def _count_phrases(parts: list[str], kind: str) -> set[tuple[str, ...]]:
    """A number column named by a plural noun holds how many there are: `Cylinders` is the
    "cylinder count"."""
    if type_class(kind) != "numeric" or len(parts) != 1 or singular(parts[0]) == parts[0]:
        return set()
    return {(singular(parts[0]), noun) for noun in ("count", "counts")}


PLACES = frozenset({"in", "on"})
"""Words that say where a count of things is: `unitsInStock`, `unitsOnOrder`."""


def _placed(parts: list[str], kind: str) -> set[tuple[str, ...]]:
    """A count of things by where they are, said by the place alone: `unitsInStock` "in
    stock" ("how many units are in stock": the things are said apart, see
    ``query_grammar._joined_columns``)."""
    if type_class(kind) != "numeric" or len(parts) < 3 or parts[1] not in PLACES:
        return set()
    return {tuple(parts[1:])}


def _layer_names(business_name: str, synonyms: list[str]) -> set[tuple[str, ...]]:
    """The phrases of the semantic layer's names for a table or column."""
    phrases: set[tuple[str, ...]] = set()
    for name in [business_name, *synonyms]:
        phrases |= _numbers(phrase_of(name))
    return phrases


def phrase_of(text: str) -> tuple[str, ...]:
    """A name as the words a question has for it (lower case, split on spaces)."""
    return tuple(text.lower().replace("\u2019", "'").split())


def _numbers(phrase: tuple[str, ...]) -> set[tuple[str, ...]]:
    """A phrase, and its last word in the singular and the plural."""
    if not phrase:
        return set()
    last = phrase[-1]
    return {phrase, (*phrase[:-1], singular(last)), (*phrase[:-1], plural(singular(last)))}


def measure_phrases(measure: CatalogMeasure) -> set[tuple[str, ...]]:
    """`total_revenue` -> (total, revenue), (total_revenue,); each synonym as written."""
    phrases = {tuple(name_parts(measure.name)), (measure.name.lower(),)}
    return phrases | {phrase_of(s) for s in measure.synonyms if phrase_of(s)}


def _spoken_phrases(parts: list[str]) -> set[tuple[str, ...]]:
    """A name as people say it: units dropped (`body_mass_g`: body mass, `Weight_in_lbs`:
    weight), abbreviations expanded (`temp_max`: max temp, maximum temperature), a measure's
    extreme said first (`temp_max`: max temperature), the last word singular or plural."""
    core = [p for p in parts if p not in UNIT_WORDS]
    while core and core[-1] in ("in", "per", "of"):
        core = core[:-1]
    if not core or len(core) > 4:
        return set()
    extremes = [p for p in core if p in _EXTREMES]
    orders = [core]
    if extremes and core[0] not in _EXTREMES:
        orders.append(extremes + [p for p in core if p not in _EXTREMES])
    phrases: set[tuple[str, ...]] = set()
    for order in orders:
        spelled: list[tuple[str, ...]] = [()]
        for part in order:
            ways = [(part,), *(tuple(a.split()) for a in ABBREVIATIONS.get(part, ()))]
            spelled = [(*s, *w) for s in spelled for w in ways]
        for phrase in spelled:
            last = phrase[-1]
            phrases |= {phrase, (*phrase[:-1], plural(last)), (*phrase[:-1], singular(last))}
    return {p for p in phrases if not (len(p) == 1 and p[0] in _EXTREMES_SPELLED)}


def build_vocabulary(catalog: PromptCatalog) -> Vocabulary:
    vocabulary = Vocabulary()
    table_words = {singular(t.name.lower()) for t in catalog.tables}
    for table in catalog.tables:
        name = table.name.lower()
        words = tuple(w for w in re.split(r"[\s_\-]+", name) if w)
        phrases = {words, (*words[:-1], singular(words[-1])), (*words[:-1], plural(words[-1]))}
        if len(words) > 1 and singular(words[-1]) in LINE_WORDS:
            # `order-details`, `order_items`: its rows are order lines
            phrases |= {(*words[:-1], "line"), (*words[:-1], "lines")}
        for phrase in phrases | {(name,)}:
            vocabulary.tables[phrase] = table.name
        for synonym in TABLE_SYNONYMS.get(singular(words[-1]), ()):
            vocabulary.tables[tuple(synonym.split())] = table.name
        for phrase in _layer_names(table.business_name, table.synonyms):
            vocabulary.tables[phrase] = table.name
        for verb in TABLE_VERBS.get(singular(words[-1]), ()):
            vocabulary.verbs[(verb,)] = table.name
        _add_columns(vocabulary, table, table_words)
    _add_measures(vocabulary, catalog)
    _add_table_words(vocabulary, catalog)
    vocabulary.names = names_of(
        tuple(
            (column_ref(table.name, column), tuple(column.values))
            for table in catalog.tables
            for column in table.columns
            if column.values
        )
    )
    vocabulary.longest = max(
        [
            vocabulary.longest,
            *(len(p) for p in vocabulary.tables),
            *(len(p) for p in vocabulary.measures),
        ]
    )
    return vocabulary


def _adjectives(phrase: tuple[str, ...]) -> set[tuple[str, ...]]:
    """A one-word value as the adjective people make of it: rain -> rainy, sun -> sunny,
    fog -> foggy, drizzle -> drizzly."""
    if len(phrase) != 1 or len(phrase[0]) < 3 or not phrase[0].isalpha():
        return set()
    word = phrase[0]
    if word.endswith("y"):
        return set()
    if word.endswith("le"):
        return {(word[:-1] + "y",)}
    if word.endswith("e"):
        return {(word[:-1] + "y",)}
    forms: set[tuple[str, ...]] = {(word + "y",)}
    if word[-1] not in "aeiouwy" and word[-2] in "aeiou" and word[-3] not in "aeiou":
        forms.add((word + word[-1] + "y",))  # sun -> sunny, fog -> foggy
    return forms


def _add_table_words(vocabulary: Vocabulary, catalog: PromptCatalog) -> None:
    """A word of one table's compound name alone (`seattle` of `seattle-weather`), when no
    other table's name has it and it names nothing else (a column, a value, a measure)."""
    owners: dict[str, set[str]] = {}
    for table in catalog.tables:
        for word in re.split(r"[\s_\-]+", table.name.lower()):
            if len(word) >= FUZZY_MIN_LENGTH and not word.isdigit():
                owners.setdefault(word, set()).add(table.name)
    taken = set(vocabulary.tables) | set(vocabulary.columns) | set(vocabulary.values)
    taken |= set(vocabulary.measures)
    for word, tables in owners.items():
        parts = re.split(r"[\s_\-]+", next(iter(tables)).lower())
        if len(tables) == 1 and len(parts) > 1 and (word,) not in taken:
            vocabulary.tables[(word,)] = next(iter(tables))
            vocabulary.table_words.add((word,))


def _add_columns(vocabulary: Vocabulary, table: CatalogTable, table_words: set[str]) -> None:
    """A table's columns as the words a question has for them, and their hinted values."""
    for column in table.columns:
        ref = column_ref(table.name, column)
        for phrase in _column_phrases(column, table, table_words):
            vocabulary._add_column(phrase, ref)
            if " ".join(phrase) in SUMMED_SYNONYMS:
                vocabulary.summed.add(phrase)
        for value in column.values if len(column.values) <= SPELLED_VALUES else ():
            phrase = tuple(value.lower().split())
            for said in {phrase, *_adjectives(phrase)}:
                vocabulary.values.setdefault(said, []).append((ref, value))
            vocabulary.longest = max(vocabulary.longest, len(phrase))


def _add_measures(vocabulary: Vocabulary, catalog: PromptCatalog) -> None:
    for measure in catalog.measures:
        if catalog.table(measure.table) is not None:
            for phrase in measure_phrases(measure):
                vocabulary.measures[phrase] = measure


COUNTED_WORDS = frozenset({"units", "quantity", "qty", "pieces"})
"""Words of a number column that counts things (`quantity`, `unitsInStock`): its values add
up, so said per group it is their total."""


def counts_things(column: str) -> bool:
    return bool(set(name_parts(column)) & COUNTED_WORDS)


def is_temporal(ref: ColumnRef) -> bool:
    return type_class(ref.type) == "temporal"


def is_year(ref: ColumnRef) -> bool:
    """An integer column that holds a year: `year`, `model_year`, `studyYear`."""
    return ref.type.lower().startswith(("int", "uint")) and name_parts(ref.column)[-1:] == ["year"]


def is_numeric(ref: ColumnRef) -> bool:
    return type_class(ref.type) == "numeric"


# Verbs that only tie a question's subject to its object ("suppliers we work with", "orders
# the shipper carried", "customers come from"): they name no table, column or value, so they
# carry nothing a query needs once the nouns are read. Regular verbs by their base form
# (`_inflections` spells the rest), then the irregular forms.
LIGHT_VERBS = (
    "work",
    "use",
    "carry",
    "handle",
    "supply",
    "provide",
    "place",
    "belong",
    "contain",
    "include",
    "exist",
    "appear",
    "happen",
    "record",
    "measure",
    "observe",
    "report",
    "sample",
    "store",
    "register",
    "serve",
    "cover",
    "need",
    "want",
    "deal",
    "reach",
    "fall",
    "drop",
    "rise",
    "climb",
)
IRREGULAR_LIGHT_VERBS = (
    "be",
    "been",
    "being",
    "having",
    "doing",
    "done",
    "get",
    "gets",
    "got",
    "gotten",
    "getting",
    "make",
    "makes",
    "making",
    "take",
    "takes",
    "took",
    "taken",
    "taking",
    "hold",
    "holds",
    "held",
    "come",
    "comes",
    "came",
    "coming",
    "go",
    "goes",
    "went",
    "gone",
    "find",
    "finds",
    "found",
    "see",
    "saw",
    "seen",
    "keep",
    "keeps",
    "kept",
    "log",
    "logged",
    "dealt",
    "occur",
    "occurs",
    "occurred",
    "fell",
    "fallen",
    "rose",
    "risen",
    "dropped",
)
# Function words and adverbs that never change which rows or values are asked for.
LIGHT_WORDS = frozenset(
    {
        "we",
        "our",
        "ours",
        "us",
        "there",
        "here",
        "currently",
        "ever",
        "single",
        "so",
        "far",
        "actually",
        "really",
        "altogether",
        "ones",
        "one's",
        "over",
    }
)


def _inflections(verb: str) -> set[str]:
    """A verb's regular forms: work, works, worked, working; carry, carries, carried;
    place, placed, placing; supply, supplies, supplied."""
    forms = {verb, plural(verb)}
    if verb.endswith("e"):
        forms |= {verb + "d", verb[:-1] + "ing"}
    elif verb.endswith("y") and verb[-2:-1] not in "aeiou":
        forms |= {verb[:-1] + "ied", verb + "ing"}
    else:
        forms |= {verb + "ed", verb + "ing"}
    return forms


LIGHT_FORMS: frozenset[str] = frozenset(
    {form for verb in LIGHT_VERBS for form in _inflections(verb)}
    | set(IRREGULAR_LIGHT_VERBS)
    | LIGHT_WORDS
)


# Common English words that are also names of things (a town called Mobile, an airport coded
# SEA, a product called Chocolade): said in lower case they are words, not names; only written
# with a capital (not first in the question) are they read as a value of a long value list.
# The grammar's and the catalog's own words are treated alike (see `query_grammar._name`).
COMMON_WORDS = frozenset(
    {
        "about",
        "above",
        "across",
        "after",
        "again",
        "against",
        "air",
        "all",
        "also",
        "always",
        "and",
        "any",
        "area",
        "around",
        "art",
        "away",
        "back",
        "bad",
        "bay",
        "beach",
        "bear",
        "bell",
        "best",
        "better",
        "big",
        "bill",
        "bird",
        "black",
        "blue",
        "board",
        "boat",
        "body",
        "book",
        "both",
        "bottom",
        "box",
        "boy",
        "bridge",
        "bright",
        "brown",
        "bush",
        "but",
        "buy",
        "call",
        "can",
        "cape",
        "car",
        "care",
        "case",
        "cat",
        "center",
        "central",
        "change",
        "child",
        "church",
        "city",
        "clear",
        "close",
        "coast",
        "cold",
        "college",
        "common",
        "cook",
        "corn",
        "could",
        "country",
        "county",
        "court",
        "cross",
        "cup",
        "cut",
        "dark",
        "day",
        "dead",
        "deal",
        "dear",
        "deep",
        "did",
        "does",
        "dog",
        "door",
        "down",
        "dry",
        "during",
        "each",
        "early",
        "earth",
        "east",
        "easy",
        "eight",
        "end",
        "even",
        "every",
        "eye",
        "face",
        "fair",
        "fall",
        "far",
        "farm",
        "fast",
        "field",
        "fine",
        "fire",
        "first",
        "fish",
        "five",
        "flat",
        "food",
        "foot",
        "for",
        "fort",
        "forest",
        "four",
        "free",
        "fresh",
        "friend",
        "front",
        "full",
        "game",
        "garden",
        "general",
        "give",
        "glad",
        "gold",
        "good",
        "grand",
        "grass",
        "great",
        "green",
        "ground",
        "grow",
        "hall",
        "hand",
        "happy",
        "hard",
        "have",
        "head",
        "heart",
        "heavy",
        "help",
        "here",
        "high",
        "hill",
        "his",
        "hold",
        "home",
        "hope",
        "horn",
        "hot",
        "house",
        "how",
        "ice",
        "island",
        "just",
        "keep",
        "key",
        "kind",
        "king",
        "lake",
        "land",
        "large",
        "last",
        "late",
        "lead",
        "leave",
        "left",
        "less",
        "let",
        "life",
        "light",
        "like",
        "line",
        "little",
        "live",
        "long",
        "look",
        "lost",
        "love",
        "low",
        "main",
        "make",
        "man",
        "many",
        "march",
        "mark",
        "may",
        "mean",
        "meet",
        "middle",
        "might",
        "mile",
        "mill",
        "mind",
        "miss",
        "mobile",
        "moon",
        "more",
        "morning",
        "most",
        "mount",
        "mountain",
        "much",
        "must",
        "name",
        "near",
        "need",
        "never",
        "new",
        "next",
        "nice",
        "night",
        "nine",
        "north",
        "not",
        "now",
        "number",
        "oak",
        "off",
        "old",
        "once",
        "only",
        "open",
        "orange",
        "other",
        "out",
        "over",
        "page",
        "park",
        "part",
        "pass",
        "past",
        "peace",
        "people",
        "pine",
        "place",
        "plain",
        "plant",
        "play",
        "point",
        "pond",
        "poor",
        "port",
        "post",
        "power",
        "pretty",
        "price",
        "prince",
        "queen",
        "quick",
        "rain",
        "ready",
        "red",
        "rest",
        "rich",
        "right",
        "ring",
        "river",
        "road",
        "rock",
        "room",
        "round",
        "run",
        "safe",
        "saint",
        "salt",
        "same",
        "sand",
        "say",
        "school",
        "sea",
        "second",
        "see",
        "seven",
        "shell",
        "ship",
        "shore",
        "short",
        "should",
        "side",
        "sign",
        "silver",
        "six",
        "small",
        "snow",
        "some",
        "song",
        "sound",
        "south",
        "spring",
        "square",
        "star",
        "start",
        "state",
        "station",
        "stay",
        "still",
        "stone",
        "store",
        "storm",
        "street",
        "strong",
        "summer",
        "sun",
        "sure",
        "sweet",
        "table",
        "take",
        "tea",
        "ten",
        "test",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "thing",
        "this",
        "three",
        "time",
        "top",
        "total",
        "tower",
        "town",
        "tree",
        "true",
        "two",
        "under",
        "union",
        "up",
        "upper",
        "use",
        "valley",
        "very",
        "view",
        "village",
        "wall",
        "war",
        "warm",
        "was",
        "water",
        "way",
        "well",
        "west",
        "what",
        "when",
        "where",
        "which",
        "while",
        "white",
        "who",
        "why",
        "wide",
        "will",
        "wind",
        "winter",
        "with",
        "wood",
        "word",
        "work",
        "world",
        "would",
        "year",
        "yellow",
        "yes",
        "you",
        "young",
    }
)
