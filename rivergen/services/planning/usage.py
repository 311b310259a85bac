"""Which entries of the workspace's semantic layer an answer used: the measures its SQL
computes, the business names and synonyms its question said, the relationships it joined on
and the verified query it repeats. Read from the question and the SQL, so it holds whichever
provider wrote the SQL."""

from __future__ import annotations

import re

import sqlglot
from pydantic import BaseModel, Field
from sqlglot import exp

from rivergen.services.planning.catalog import CatalogMeasure, PromptCatalog
from rivergen.services.planning.lexicon import phrase_of
from rivergen.services.planning.measures import MeasureError, measure_sql

DIALECT = "duckdb"


class LayerUse(BaseModel):
    """The semantic layer entries an answer used, each in a line people can read."""

    measures: list[str] = Field(default_factory=list, description="`revenue = SUM(...)`.")
    synonyms: list[str] = Field(
        default_factory=list, description="`merchandise: products` (a name the layer gives)."
    )
    relationships: list[str] = Field(
        default_factory=list, description="`order_details.productID = products.productID`."
    )
    verified_queries: list[str] = Field(
        default_factory=list, description="The verified questions whose SQL it ran."
    )

    def empty(self) -> bool:
        return not (self.measures or self.synonyms or self.relationships or self.verified_queries)


def _flat(sql: str) -> str:
    return re.sub(r"[\s\"`]+", "", sql).casefold()


def _tables(tree: exp.Expr | None) -> set[str]:
    return {t.name.casefold() for t in tree.find_all(exp.Table)} if tree is not None else set()


def _joined(tree: exp.Expr | None) -> set[frozenset[str]]:
    """Pairs of `table.column` equated in the SQL's join conditions."""
    pairs: set[frozenset[str]] = set()
    if tree is None:
        return pairs
    for join in tree.find_all(exp.Join):
        on = join.args.get("on")
        for eq in on.find_all(exp.EQ) if on is not None else ():
            left, right = eq.this, eq.expression
            if isinstance(left, exp.Column) and isinstance(right, exp.Column):
                pairs.add(
                    frozenset(
                        {
                            f"{left.table}.{left.name}".casefold(),
                            f"{right.table}.{right.name}".casefold(),
                        }
                    )
                )
    return pairs


def _said(question: str, name: str) -> bool:
    words, wanted = phrase_of(re.sub(r"[^\w\s']", " ", question)), phrase_of(name)
    n = len(wanted)
    return n > 0 and any(words[i : i + n] == wanted for i in range(len(words) - n + 1))


def layer_used(question: str, sql: str | None, catalog: PromptCatalog) -> LayerUse:
    """The layer entries ``sql`` (and the ``question`` it answers) used; nothing without a
    confirmed layer."""
    if catalog.semantic_version is None:
        return LayerUse()
    try:
        tree = sqlglot.parse_one(sql, dialect=DIALECT) if sql else None
    except sqlglot.errors.ParseError:
        tree = None
    tables = _tables(tree)
    measures = _measures(catalog, tables, _aggregates(tree))
    return LayerUse(
        measures=[f"{m.name} = {formula}" for m, formula in measures],
        synonyms=list(dict.fromkeys(_synonyms(question, catalog, tables, measures))),
        relationships=_relationships(catalog, _joined(tree)),
        verified_queries=[
            e.question
            for e in catalog.examples
            if (sql and _flat(e.sql) == _flat(sql))
            or e.question.strip().casefold() == question.strip().casefold()
        ],
    )


def _unqualified(node: exp.Expr) -> str:
    """An expression as text with its columns' tables left out (a measure names none)."""
    copy = node.copy()
    for column in copy.find_all(exp.Column):
        column.set("table", None)
    return _flat(copy.sql(dialect=DIALECT))


def _aggregates(tree: exp.Expr | None) -> str:
    """The query's aggregates, unqualified, one per line."""
    if tree is None:
        return ""
    return "\n".join(_unqualified(a) for a in tree.find_all(exp.AggFunc))


def _measures(
    catalog: PromptCatalog, tables: set[str], flat: str
) -> list[tuple[CatalogMeasure, str]]:
    """The measures whose SQL the query computes (``flat``: its aggregates, unqualified)."""
    used = []
    for measure in catalog.measures:
        try:
            formula = measure_sql(measure.expression, measure.aggregation)
        except MeasureError:
            continue
        try:
            wanted = _unqualified(sqlglot.parse_one(formula, dialect=DIALECT))
        except sqlglot.errors.ParseError:
            continue
        if measure.table.casefold() in tables and wanted in flat:
            used.append((measure, formula))
    return used


def _synonyms(
    question: str,
    catalog: PromptCatalog,
    tables: set[str],
    measures: list[tuple[CatalogMeasure, str]],
) -> list[str]:
    """The layer's names of the query's tables, columns and measures that the question said."""
    named: list[tuple[str, str]] = []
    for table in catalog.tables:
        if table.name.casefold() in tables:
            named += [(n, table.name) for n in [table.business_name, *table.synonyms]]
            named += [
                (n, f"{table.name}.{c.name}")
                for c in table.columns
                for n in [c.business_name, *c.synonyms]
            ]
    named += [(n, f"the measure {m.name}") for m, _ in measures for n in m.synonyms]
    return [
        f"{name}: {what}"
        for name, what in named
        if name and name.casefold() != what.rpartition(".")[2].casefold() and _said(question, name)
    ]


def _relationships(catalog: PromptCatalog, joined: set[frozenset[str]]) -> list[str]:
    used = []
    for key in catalog.keys:
        pair = frozenset(
            {f"{key.table}.{key.column}".casefold(), f"{key.ref_table}.{key.ref_column}".casefold()}
        )
        if pair in joined:
            used.append(f"{key.table}.{key.column} = {key.ref_table}.{key.ref_column}")
    return used
