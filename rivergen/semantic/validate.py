"""A semantic layer checked against the catalog and on the engine: every dataset and column it
names exists; every measure, relationship and verified query is admitted (read-only, no
files, known tables) and binds over the datasets' schemas (empty relations on DuckDB). Else
422 ``semantic_invalid`` naming the entry (``details.where``) with the engine's message."""

from __future__ import annotations

from typing import Any

from rivergen.errors import BadRequest, ValidationFailed
from rivergen.semantic.schemas import Measure, Relationship, SemanticDataset, SemanticLayer
from rivergen.services.execution.sql import compile_sql
from rivergen.services.planning.catalog import CatalogTable, PromptCatalog
from rivergen.services.planning.measures import (
    MeasureError,
    is_aggregate,
    measure_sql,
    parse_expression,
)


def semantic_invalid(message: str, where: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(message, code="semantic_invalid", details={"where": where, **details})


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def validate(layer: SemanticLayer, catalog: PromptCatalog) -> None:
    """Raise :func:`semantic_invalid` at the first entry that does not hold."""
    _check_datasets(layer, catalog)
    names: set[str] = set()
    for i, measure in enumerate(layer.measures):
        if measure.name.casefold() in names:
            raise semantic_invalid(f"two measures are named {measure.name}", f"measures[{i}]")
        names.add(measure.name.casefold())
        check_measure(measure, catalog, f"measures[{i}]")
    for i, relationship in enumerate(layer.relationships):
        check_relationship(relationship, catalog, f"relationships[{i}]")
    for i, query in enumerate(layer.verified_queries):
        bind(query.sql, catalog, f"verified_queries[{i}]", f"verified query {query.question!r}")


def _check_datasets(layer: SemanticLayer, catalog: PromptCatalog) -> None:
    seen: set[str] = set()
    for i, dataset in enumerate(layer.datasets):
        where = f"datasets[{i}]"
        table = _table(catalog, dataset.name, where)
        if table.name.casefold() in seen:
            raise semantic_invalid(f"the dataset {dataset.name} is described twice", where)
        seen.add(table.name.casefold())
        columns: set[str] = set()
        for j, column in enumerate(dataset.columns):
            at = f"{where}.columns[{j}]"
            _column(table, column.name, at)
            if column.name.casefold() in columns:
                raise semantic_invalid(f"the column {column.name} is described twice", at)
            columns.add(column.name.casefold())
            if (column.true_values or column.false_values) and column.role != "boolean":
                raise semantic_invalid(
                    f"{dataset.name}.{column.name}: true and false values are for boolean columns",
                    at,
                )


def _table(catalog: PromptCatalog, name: str, where: str) -> CatalogTable:
    table = catalog.table(name)
    if table is None:
        raise semantic_invalid(f"no dataset {name!r} in the workspace", where, dataset=name)
    return table


def _column(table: CatalogTable, name: str, where: str) -> str:
    for column in table.columns:
        if column.name.casefold() == name.casefold():
            return column.name
    raise semantic_invalid(
        f"the dataset {table.name} has no column {name!r}",
        where,
        dataset=table.name,
        column=name,
    )


def check_measure(measure: Measure, catalog: PromptCatalog, where: str) -> None:
    table = _table(catalog, measure.dataset, where)
    what = f"measure {measure.name}"
    try:
        tree = parse_expression(measure.expression)
        if measure.aggregation == "none" and not is_aggregate(tree):
            raise MeasureError("with aggregation `none` the expression must be an aggregate")
        if measure.aggregation != "none" and is_aggregate(tree):
            raise MeasureError(
                "the expression is an aggregate already: set the aggregation to `none`"
            )
        expression = measure_sql(measure.expression, measure.aggregation)
    except MeasureError as exc:
        raise semantic_invalid(f"{what}: {exc}", where) from None
    sql = f"SELECT {expression} AS {quoted(measure.name)} FROM {quoted(table.name)}"
    bind(sql, catalog, where, what)


def check_relationship(relationship: Relationship, catalog: PromptCatalog, where: str) -> None:
    left = _table(catalog, relationship.from_dataset, where)
    right = _table(catalog, relationship.to_dataset, where)
    left_column = _column(left, relationship.from_column, where)
    right_column = _column(right, relationship.to_column, where)
    sql = (
        f"SELECT 1 FROM {quoted(left.name)} AS l JOIN {quoted(right.name)} AS r "
        f"ON l.{quoted(left_column)} = r.{quoted(right_column)}"
    )
    what = f"relationship {left.name}.{left_column} -> {right.name}.{right_column}"
    bind(sql, catalog, where, what)


def bind(sql: str, catalog: PromptCatalog, where: str, what: str) -> None:
    """Admit ``sql`` and bind it over the catalog's schemas, or :func:`semantic_invalid`."""
    try:
        compile_sql(sql, catalog)
    except (BadRequest, ValidationFailed) as exc:
        raise semantic_invalid(
            f"{what}: {exc.message}", where, engine_code=exc.error_code, **exc.details
        ) from None


def kept_valid(layer: SemanticLayer, catalog: PromptCatalog) -> SemanticLayer:
    """``layer`` without the entries that no longer hold over ``catalog`` (a dataset or column
    gone, a measure or query that no longer binds): what a new draft keeps of the current."""
    datasets: list[SemanticDataset] = []
    for dataset in layer.datasets:
        table = catalog.table(dataset.name)
        if table is None or any(d.name.casefold() == table.name.casefold() for d in datasets):
            continue
        names = {c.name.casefold() for c in table.columns}
        columns = [c for c in dataset.columns if c.name.casefold() in names]
        datasets.append(dataset.model_copy(update={"columns": columns}))
    measures = [m for m in layer.measures if _holds(check_measure, m, catalog)]
    unique = [
        m
        for i, m in enumerate(measures)
        if m.name.casefold() not in {n.name.casefold() for n in measures[:i]}
    ]
    return SemanticLayer(
        datasets=datasets,
        measures=unique,
        relationships=[r for r in layer.relationships if _holds(check_relationship, r, catalog)],
        verified_queries=[
            q
            for q in layer.verified_queries
            if _holds(lambda q, c, w: bind(q.sql, c, w, "query"), q, catalog)
        ],
    )


def _holds(check: Any, entry: Any, catalog: PromptCatalog) -> bool:
    try:
        check(entry, catalog, "")
    except ValidationFailed:
        return False
    return True
