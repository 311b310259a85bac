"""The semantic layer applied to the prompt catalog: what both providers read. Entries that
name a dataset or column the catalog no longer has are left out."""

from __future__ import annotations

from rivergen.semantic.schemas import SemanticDataset, SemanticLayer
from rivergen.services.planning.catalog import (
    CatalogExample,
    CatalogKey,
    CatalogMeasure,
    CatalogTable,
    PromptCatalog,
)


def _describe(table: CatalogTable, described: SemanticDataset) -> None:
    table.business_name = described.business_name
    table.synonyms = list(described.synonyms)
    if described.description and not table.description:
        table.description = described.description
    by_name = {c.name.casefold(): c for c in described.columns}
    for column in table.columns:
        found = by_name.get(column.name.casefold())
        if found is not None:
            column.business_name = found.business_name
            column.synonyms = list(found.synonyms)
            column.role = found.role
            column.true_values = list(found.true_values)
            column.false_values = list(found.false_values)
            column.date_format = found.date_format


def _column_name(table: CatalogTable, name: str) -> str | None:
    return next((c.name for c in table.columns if c.name.casefold() == name.casefold()), None)


def apply_layer(catalog: PromptCatalog, layer: SemanticLayer, version: int) -> PromptCatalog:
    """A copy of ``catalog`` with the layer's names, synonyms, roles, measures, relationships
    (as its keys) and verified queries (as its examples)."""
    enriched = catalog.model_copy(deep=True)
    for described in layer.datasets:
        table = enriched.table(described.name)
        if table is not None:
            _describe(table, described)
    for measure in layer.measures:
        table = enriched.table(measure.dataset)
        if table is not None:
            enriched.measures.append(
                CatalogMeasure(
                    name=measure.name,
                    table=table.name,
                    expression=measure.expression,
                    aggregation=measure.aggregation,
                    synonyms=list(measure.synonyms),
                    description=measure.description,
                )
            )
    for relationship in layer.relationships:
        left = enriched.table(relationship.from_dataset)
        right = enriched.table(relationship.to_dataset)
        if left is None or right is None:
            continue
        left_column = _column_name(left, relationship.from_column)
        right_column = _column_name(right, relationship.to_column)
        if left_column is None or right_column is None:
            continue
        key = CatalogKey(
            table=left.name, column=left_column, ref_table=right.name, ref_column=right_column
        )
        if key not in enriched.keys:
            enriched.keys.append(key)
    enriched.examples = [
        CatalogExample(question=q.question, sql=q.sql) for q in layer.verified_queries
    ]
    enriched.semantic_version = version
    return enriched
