"""The automatic first draft of a semantic layer, from the catalog and the datasets' kept
profiles; a person confirms or edits it.

- Names: split from camelCase, snake_case and kebab-case (`unitPrice` -> "unit price",
  `order_details` -> "order details"); synonyms: the other number of a dataset's name and the
  common synonyms of the words of a name (:mod:`rivergen.services.planning.lexicon`).
- Roles: identifiers (`id`, `...ID`, `..._id`), booleans (a boolean type, or a profile that
  saw only 0/1, true/false, yes/no, y/n, t/f), time dimensions (a date or time type), measure
  sources (other numbers), dimensions (the rest).
- Measures: one per measure source: `total_<name>` (sum), or `average_<name>` (avg) for a
  price, rate, discount, share or score; and of several columns of a dataset: `revenue`
  (price x quantity, less a discount when there is one) and `stock_value` (price x units in
  stock).
- Relationships: a column named like another dataset's own key (`productID` in
  order_details -> `products.productID`; `customer_id` -> `customers.id`), or named like the
  other dataset's noun with values, as the profiles saw them, all among the key's
  (`orders.shipVia` -> `shippers.shipperID`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rivergen.engine.spec import type_class
from rivergen.semantic.schemas import (
    Aggregation,
    ColumnRole,
    Measure,
    Relationship,
    SemanticColumn,
    SemanticDataset,
    SemanticLayer,
)
from rivergen.services.planning.catalog import CatalogColumn, CatalogTable, PromptCatalog
from rivergen.services.planning.lexicon import (
    AVERAGED_WORDS,
    COLUMN_SYNONYMS,
    NUMERIC_CONCEPTS,
    TABLE_SYNONYMS,
    UNIT_WORDS,
    name_parts,
    plural,
    singular,
)

MAX_SYNONYMS = 12
# Words of a number that is averaged rather than added up.
AVERAGED = AVERAGED_WORDS
_SUM: tuple[str, Aggregation] = ("total", "sum")
_AVG: tuple[str, Aggregation] = ("average", "avg")
BOOLEAN_PAIRS = (("1", "0"), ("true", "false"), ("yes", "no"), ("y", "n"), ("t", "f"))


def words(name: str) -> list[str]:
    """`unitPrice` -> unit, price; `order_details` -> order, details; `categoryID` ->
    category, id."""
    return name_parts(name)


def business_name(name: str) -> str:
    return " ".join(words(name)) or name


def _unique(items: list[str], leave_out: str) -> list[str]:
    seen = {leave_out.casefold()}
    out = []
    for item in items:
        if item.casefold() not in seen:
            seen.add(item.casefold())
            out.append(item)
    return out[:MAX_SYNONYMS]


def _table_synonyms(table: CatalogTable) -> list[str]:
    parts = words(table.name)
    if not parts:
        return []
    last = parts[-1]
    one = singular(last)
    forms = [" ".join([*parts[:-1], one]), " ".join([*parts[:-1], plural(one)])]
    if len(parts) > 1:
        forms.append("".join(parts))
    return _unique(forms + list(TABLE_SYNONYMS.get(singular(last), ())), " ".join(parts))


def _column_synonyms(
    column: CatalogColumn, role: ColumnRole, described: list[str] | None = None
) -> list[str]:
    parts = words(column.name)
    if role == "identifier" or not parts:
        return []
    found: list[str] = list(described or [])
    if role != "boolean" and len(parts) <= 2:
        found.append(" ".join([*parts[:-1], plural(singular(parts[-1]))]))
    numeric = type_class(column.type) == "numeric"
    for part in parts:
        if part in NUMERIC_CONCEPTS and not numeric:
            continue  # `quantityPerUnit`, a text: not "units"
        found += COLUMN_SYNONYMS.get(part, ())
    return _unique(found, " ".join(parts))


def _profile_columns(profile: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    if not profile:
        return {}
    return {c["name"]: c for c in profile.get("columns", []) if isinstance(c, Mapping)}


def boolean_values(column: CatalogColumn, seen: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """(true, false) as stored, when the column holds yes/no values."""
    kind = type_class(column.type)
    if kind == "boolean":
        return "true", "false"
    if seen is None or not seen.get("count") or seen.get("distinct_count") not in (1, 2):
        return None
    values = [v.get("value") for v in seen.get("top_values", []) if isinstance(v, Mapping)]
    if len(values) != seen.get("distinct_count"):
        return None
    if kind == "numeric":
        spelled = {str(int(v)) for v in values if isinstance(v, int | float) and v in (0, 1)}
        return ("1", "0") if len(spelled) == len(values) and "1" in spelled else None
    texts = [v for v in values if isinstance(v, str)]
    if kind == "string" and len(texts) == len(values):
        folded = {v.casefold(): v for v in texts}
        for true, false in BOOLEAN_PAIRS:
            if set(folded) <= {true, false} and (true in folded or false in folded):
                return folded.get(true, true), folded.get(false, false)
    return None


def _is_identifier(name: str) -> bool:
    parts = words(name)
    return bool(parts) and parts[-1] == "id"


def column_role(column: CatalogColumn, seen: Mapping[str, Any] | None) -> ColumnRole:
    if _is_identifier(column.name):
        return "identifier"
    if boolean_values(column, seen) is not None:
        return "boolean"
    kind = type_class(column.type)
    if kind == "temporal" or (kind == "string" and set(words(column.name)) & {"date", "time"}):
        return "time_dimension"
    if kind == "numeric":
        return "measure_source"
    return "dimension"


# Formats of dates held as text, tried on the values a profile saw.
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%b %d %Y",
    "%d %b %Y",
    "%B %d %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m",
)


def date_format(column: CatalogColumn, seen: Mapping[str, Any] | None) -> str | None:
    """The one format that reads every value the profile saw of a text column (None: none
    or several do, as `01/02/2020` in days first or months first)."""
    if type_class(column.type) != "string" or seen is None:
        return None
    values = [v.get("value") for v in seen.get("top_values", []) if isinstance(v, Mapping)]
    texts = [v.strip() for v in values if isinstance(v, str) and v.strip()]
    if len(texts) < 3 or len(texts) != len(values):
        return None
    fitting = [f for f in DATE_FORMATS if all(_parses(t, f) for t in texts)]
    return fitting[0] if len(fitting) == 1 else None


def _parses(text: str, fmt: str) -> bool:
    try:
        datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


def draft_column(
    column: CatalogColumn, seen: Mapping[str, Any] | None, table: CatalogTable | None = None
) -> SemanticColumn:
    role = column_role(column, seen)
    values = boolean_values(column, seen) if role == "boolean" else None
    fmt = date_format(column, seen) if role in ("time_dimension", "dimension") else None
    described = described_column_names(table, column) if table is not None else []
    return SemanticColumn(
        name=column.name,
        business_name=business_name(column.name),
        synonyms=_column_synonyms(column, role, described),
        role="time_dimension" if fmt else role,
        true_values=[values[0]] if values else [],
        false_values=[values[1]] if values else [],
        date_format=fmt,
    )


# Words of a description that join or qualify its names, never a name's own word.
_FUNCTION_WORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "and",
        "or",
        "but",
        "nor",
        "of",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "to",
        "with",
        "without",
        "into",
        "over",
        "per",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "its",
        "their",
        "his",
        "her",
        "our",
        "your",
        "it",
        "they",
        "we",
        "each",
        "every",
        "all",
        "some",
        "any",
        "other",
        "others",
        "including",
        "includes",
        "include",
        "contains",
        "contain",
        "lists",
        "list",
        "such",
        "than",
        "then",
        "also",
        "daily",
        "weekly",
        "monthly",
        "yearly",
        "recorded",
        "measured",
        "observed",
    }
)


def _segments(text: str) -> list[list[str]]:
    """A description's runs of words between punctuation, lower case."""
    runs = re.split(r"[.,;:!?()\[\]\n]+", text.lower())
    return [re.findall(r"[a-z][a-z'\-]*|\d+", run) for run in runs if run.strip()]


def _name_words(table: CatalogTable) -> set[str]:
    """The words of a table's own name and of its columns' names, in both numbers, and of the
    values its columns list."""
    found = {w for c in table.columns for w in words(c.name)} | set(words(table.name))
    found |= {w.lower() for c in table.columns for v in c.values for w in v.split()}
    return found | {plural(singular(w)) for w in found} | {singular(w) for w in found}


def _plain_word(word: str, taken: set[str]) -> bool:
    return word.isalpha() and len(word) >= 3 and word not in _FUNCTION_WORDS | taken


def described_column_names(table: CatalogTable, column: CatalogColumn) -> list[str]:
    """What the table's description calls a column named by one word, with the word it says
    next to it: "wind speed" for `wind`, "study year" for `year`, "stock prices" for `price`
    (a word that names no column, table or value of the table, nor joins words)."""
    spoken = [w for w in words(column.name) if w not in UNIT_WORDS]
    if len(spoken) != 1 or not table.description:
        return []
    name = singular(spoken[0])
    own = {f for w in words(table.name) for f in (w, singular(w), plural(singular(w)))}
    taken = _name_words(table) - own  # "stock prices" of the stocks
    found: list[str] = []
    for run in _segments(table.description):
        for i, word in enumerate(run):
            if singular(word) != name:
                continue
            if i + 1 < len(run) and _plain_word(run[i + 1], taken):
                found.append(f"{name} {singular(run[i + 1])}")
            if i > 0 and _plain_word(run[i - 1], taken):
                found.append(f"{run[i - 1]} {name}")
    return [f for phrase in dict.fromkeys(found) for f in (phrase, _plural_phrase(phrase))]


def _plural_phrase(phrase: str) -> str:
    *head, last = phrase.split()
    return " ".join([*head, plural(singular(last))])


def _singular_phrase(phrase: str) -> str:
    *head, last = phrase.split()
    return " ".join([*head, singular(last)])


DESCRIBED_TABLE_WORDS = 3


def described_table_name(table: CatalogTable) -> str | None:
    """What a table's description calls its rows, when it begins by naming them: "Shipping
    companies." (the shippers), "Customer orders: dates, ...": a phrase of at most three words
    ending in a plural noun, before any punctuation or joining word, that names none of the
    table's columns."""
    runs = _segments(table.description)
    if not runs:
        return None
    phrase: list[str] = []
    for word in runs[0]:
        if word in _FUNCTION_WORDS:
            if phrase or word != "the":
                break
            continue
        phrase.append(word)
    last = phrase[-1] if phrase else ""
    columns = {" ".join(words(c.name)) for c in table.columns}
    if (
        not phrase
        or len(phrase) > DESCRIBED_TABLE_WORDS
        or not all(w.isalpha() for w in phrase)
        or not (last.endswith("s") and not last.endswith("ss") and singular(last) != last)
        or {" ".join(phrase), _singular_phrase(" ".join(phrase))} & columns
    ):
        return None
    return " ".join(phrase)


def _described_tables(catalog: PromptCatalog) -> dict[str, list[str]]:
    """Each table's name from its description (and the phrase in the singular), when no
    other table's description gives the same name."""
    said = {t.name: described_table_name(t) for t in catalog.tables}
    counts = Counter(p for p in said.values() if p)
    return {
        name: [phrase, _singular_phrase(phrase)]
        for name, phrase in said.items()
        if phrase and counts[phrase] == 1
    }


def _snake(name: str) -> str:
    return "_".join(words(name)) or re.sub(r"\W+", "_", name).strip("_") or "value"


def draft_measures(datasets: list[SemanticDataset]) -> list[Measure]:
    drafted: list[tuple[SemanticDataset, SemanticColumn, str, Aggregation]] = []
    for dataset in datasets:
        for column in dataset.columns:
            if column.role == "measure_source":
                averaged = bool(set(words(column.name)) & AVERAGED)
                drafted.append((dataset, column, *(_AVG if averaged else _SUM)))
    plain = [f"{prefix}_{_snake(column.name)}" for _, column, prefix, _ in drafted]
    measures = []
    for (dataset, column, prefix, aggregation), name in zip(drafted, plain, strict=True):
        shared = plain.count(name) > 1  # the same column name in several datasets: say whose
        if shared:
            name = f"{prefix}_{_snake(dataset.name)}_{_snake(column.name)}"
        measures.append(
            Measure(
                name=name[:100],
                dataset=dataset.name,
                expression=_column_sql(column.name),
                aggregation=aggregation,
                description=f"The {prefix} of {dataset.name}.{column.name}.",
            )
        )
    return measures


# Measures computed from several columns of one dataset, found by the words of its columns:
# (name, synonyms, the columns' roles by words, how the expression is built).
REVENUE_SYNONYMS = ["revenue", "sales", "turnover", "sales amount", "income"]
STOCK_VALUE_SYNONYMS = [
    "stock value",
    "inventory value",
    "value of stock",
    "value of the stock",
    "value of inventory",
]


def _column_with(columns: list[SemanticColumn], *wanted: set[str]) -> SemanticColumn | None:
    """The one measure source whose name has a word of each set (None: none, or several)."""
    found = [
        c
        for c in columns
        if c.role == "measure_source" and all(set(words(c.name)) & w for w in wanted)
    ]
    return found[0] if len(found) == 1 else None


def derived_measures(dataset: SemanticDataset) -> list[Measure]:
    """Measures of a dataset's rows that multiply its columns: the revenue of lines with a
    price and a quantity (less a discount when there is one), `sum(price * quantity * (1 -
    discount))`; the value of a stock, `sum(price * units in stock)`."""
    columns = dataset.columns
    price = _column_with(columns, {"price"})
    if price is None:
        return []
    found: list[Measure] = []
    quantity = _column_with(columns, {"quantity", "qty"})
    if quantity is not None:
        discount = _column_with(columns, {"discount"})
        expression = f"{_column_sql(price.name)} * {_column_sql(quantity.name)}"
        if discount is not None:
            expression += f" * (1 - {_column_sql(discount.name)})"
        found.append(
            Measure(
                name="revenue",
                dataset=dataset.name,
                expression=expression,
                aggregation="sum",
                synonyms=REVENUE_SYNONYMS,
                description=f"Price times quantity{' less the discount' if discount else ''}, "
                f"summed over the rows of {dataset.name}.",
            )
        )
    stock = _column_with(columns, {"stock", "inventory"}, {"units", "unit", "quantity", "qty"})
    if stock is not None:
        found.append(
            Measure(
                name="stock_value",
                dataset=dataset.name,
                aggregation="sum",
                expression=f"{_column_sql(price.name)} * {_column_sql(stock.name)}",
                synonyms=STOCK_VALUE_SYNONYMS,
                description=f"Price times units in stock, summed over the rows of {dataset.name}.",
            )
        )
    return found


def _column_sql(name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def own_key(table: CatalogTable) -> str | None:
    """The column that identifies a table's rows by its name: `productID` of products, `id`."""
    parts = words(table.name)
    if not parts:
        return None
    wanted = [*parts[:-1], singular(parts[-1]), "id"]
    for column in table.columns:
        if words(column.name) == wanted:
            return column.name
    for column in table.columns:
        if column.name.casefold() == "id":
            return column.name
    return None


def _stats(
    profiles: Mapping[str, Mapping[str, Any] | None], table: str, column: str
) -> Mapping[str, Any] | None:
    return _profile_columns(profiles.get(table)).get(column)


def _within(source: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
    """Whether every value the source's profile saw may be one of the target key's: all its
    distinct values known (its top values), each an integer between the key's least and
    greatest, and no more of them than the key has."""
    distinct, low, high = source.get("distinct_count"), target.get("min"), target.get("max")
    values = [v.get("value") for v in source.get("top_values", []) if isinstance(v, Mapping)]
    if not distinct or len(values) != distinct or low is None or high is None:
        return False
    if distinct > (target.get("distinct_count") or 0):
        return False
    return all(isinstance(v, int) and low <= v <= high for v in values)


def _names_like(column: str, table: str) -> bool:
    """`shipVia` and `shippers`: a word of the column begins the table's noun, or the other
    way round (`cust` and `customers`)."""
    noun = singular(words(table)[-1]) if words(table) else ""
    return any(
        len(part) >= 3 and part != "id" and (noun.startswith(part) or part.startswith(noun))
        for part in words(column)
    )


def value_relationships(
    catalog: PromptCatalog,
    profiles: Mapping[str, Mapping[str, Any] | None],
    known: list[Relationship],
) -> list[Relationship]:
    """Keys named otherwise than the key they refer to (`orders.shipVia` -> `shippers.
    shipperID`): an integer column named like the other dataset's noun whose values, as its
    profile saw them, all fall among the key's."""
    related = {(r.from_dataset, r.from_column) for r in known}
    found: list[Relationship] = []
    for target in catalog.tables:
        key = own_key(target)
        target_stats = _stats(profiles, target.name, key) if key else None
        if key is None or target_stats is None:
            continue
        for source in catalog.tables:
            for column in source.columns if source.name != target.name else []:
                stats = _stats(profiles, source.name, column.name)
                if (
                    (source.name, column.name) not in related
                    and column.name != own_key(source)
                    and type_class(column.type) == "numeric"
                    and _names_like(column.name, target.name)
                    and stats is not None
                    and _within(stats, target_stats)
                ):
                    found.append(
                        Relationship(
                            from_dataset=source.name,
                            from_column=column.name,
                            to_dataset=target.name,
                            to_column=key,
                        )
                    )
    return found


def draft_relationships(catalog: PromptCatalog) -> list[Relationship]:
    found: list[Relationship] = []
    for target in catalog.tables:
        key = own_key(target)
        if key is None:
            continue
        parts = words(target.name)
        wanted = [*parts[:-1], singular(parts[-1]), "id"]
        key_type = type_class(next(c.type for c in target.columns if c.name == key))
        for source in catalog.tables:
            if source.name == target.name:
                continue
            for column in source.columns:
                if words(column.name) == wanted and type_class(column.type) == key_type:
                    found.append(
                        Relationship(
                            from_dataset=source.name,
                            from_column=column.name,
                            to_dataset=target.name,
                            to_column=key,
                        )
                    )
    return found


def draft_layer(
    catalog: PromptCatalog, profiles: Mapping[str, Mapping[str, Any] | None]
) -> SemanticLayer:
    """The automatic draft of ``catalog``'s datasets; ``profiles``: each dataset's kept profile
    (as stored) by name, where there is one."""
    datasets = []
    described = _described_tables(catalog)
    for table in catalog.tables:
        seen = _profile_columns(profiles.get(table.name))
        synonyms = _unique(
            described.get(table.name, []) + _table_synonyms(table), business_name(table.name)
        )
        datasets.append(
            SemanticDataset(
                name=table.name,
                business_name=business_name(table.name),
                description=table.description,
                synonyms=synonyms,
                columns=[draft_column(c, seen.get(c.name), table) for c in table.columns],
            )
        )
    relationships = draft_relationships(catalog)
    relationships += value_relationships(catalog, profiles, relationships)
    measures = draft_measures(datasets)
    derived = [m for d in datasets for m in derived_measures(d)]
    for measure in derived:
        # The same derived measure of several datasets: say whose.
        if sum(1 for m in derived if m.name == measure.name) > 1:
            measure.name = f"{measure.name}_{_snake(measure.dataset)}"[:100]
            measure.synonyms = []
    return SemanticLayer(
        datasets=datasets,
        measures=measures + derived,
        relationships=relationships,
    )


def merged(draft: SemanticLayer, current: SemanticLayer | None) -> SemanticLayer:
    """A new draft over the current layer: what people wrote stays (its datasets, columns,
    measures, relationships and verified queries); only what the current layer does not
    describe yet (new datasets, new columns) comes from the draft. Entries of datasets gone
    from the catalog are dropped by the caller's validation filter."""
    if current is None:
        return draft
    described = {d.name.casefold(): d for d in current.datasets}
    datasets = []
    new_datasets: set[str] = set()
    for drafted in draft.datasets:
        kept = described.get(drafted.name.casefold())
        if kept is None:
            datasets.append(drafted)
            new_datasets.add(drafted.name.casefold())
            continue
        columns = {c.name.casefold() for c in kept.columns}
        extra = [c for c in drafted.columns if c.name.casefold() not in columns]
        datasets.append(kept.model_copy(update={"columns": [*kept.columns, *extra]}))
    names = {m.name.casefold() for m in current.measures}
    measures = [*current.measures] + [
        m
        for m in draft.measures
        if m.dataset.casefold() in new_datasets and m.name.casefold() not in names
    ]
    relationships = [*current.relationships] + [
        r for r in draft.relationships if r not in current.relationships
    ]
    return SemanticLayer(
        datasets=datasets,
        measures=measures,
        relationships=relationships,
        verified_queries=current.verified_queries,
    )
