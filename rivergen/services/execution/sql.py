"""SQL over the prompt catalog, admitted and compiled for the engine (:mod:`rivergen.engine`).

:func:`compile_sql` admits one read-only query (:func:`rivergen.engine.sandbox.admit`: the
whole SELECT dialect of DuckDB, CTEs, subqueries, windows, set operations; never a file, the
environment or a write), resolves each table it names to a catalog dataset, proves it binds
over the catalog's schemas (422 ``sql_invalid`` with the engine's message), and records what
it reads and where each answer column comes from (sqlglot's lineage). :func:`run_compiled`
runs it over the datasets' tables, as their reader may see them.

Refused, with a machine-readable code: text that does not parse or bind (``sql_invalid``),
more than one statement (``sql_multiple_statements``), anything but a read
(``sql_not_read_only``), a function that reads files or the environment
(``sql_function_not_allowed``), and tables the catalog does not have (``table_not_found``).
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

import pyarrow as pa
from pydantic import BaseModel, Field
from sqlglot import exp

from rivergen.engine.duck import EngineLimits, Relation, admitted_schema, execute
from rivergen.engine.lineage import query_lineage
from rivergen.engine.query import columns_read
from rivergen.engine.sandbox import DIALECT, Admitted, admit, parse
from rivergen.engine.types import arrow_schema
from rivergen.services.planning.catalog import CatalogTable, PromptCatalog


class ColumnSource(BaseModel):
    table: str
    column: str


class CompiledQuery(BaseModel):
    """One admitted read: the SQL the engine runs over relations named by dataset, and what it
    reads and gives."""

    sql: str = Field(description="The statement as parsed, normalized (catalog names).")
    engine_sql: str = Field(description="The admitted statement over the relations.")
    relations: dict[str, str] = Field(description="Dataset id -> its relation in engine_sql.")
    tables: list[str] = Field(description="Catalog tables read, in the order first named.")
    datasets: dict[str, UUID] = Field(description="Each table read -> its dataset id.")
    schema_types: dict[str, str] = Field(
        default_factory=dict, description="Answer column -> Arrow type (empty if unknown)."
    )
    lineage: dict[str, list[ColumnSource]] = Field(
        default_factory=dict,
        description="Answer column -> the catalog columns it is computed from.",
    )
    reads: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Each catalog column the query names, by table (for access rules).",
    )
    loads: dict[str, list[str] | None] = Field(
        default_factory=dict,
        description="Each table -> the columns worth loading for it (None: all).",
    )
    conditions: list[str] = Field(
        default_factory=list, description="The top-level WHERE conditions, as SQL."
    )


def relation_of(dataset: UUID) -> str:
    return f"ds_{dataset.hex}"


def compile_sql(sql: str, catalog: PromptCatalog) -> CompiledQuery:
    """Admit ``sql`` against the catalog (see the module). Raises :class:`BadRequest` (the SQL
    is refused) or :class:`ValidationFailed` (it names what the catalog does not have, or does
    not bind)."""
    display = parse(sql)
    chosen: dict[str, CatalogTable] = {}

    def resolve(written: str) -> str | None:
        table = catalog.table(written)
        if table is None:
            return None
        chosen.setdefault(table.name, table)
        return relation_of(table.dataset_id)

    admitted = admit(sql, resolve)
    schemas = {relation_of(t.dataset_id): arrow_schema(_types(t)) for t in chosen.values()}
    schema_types: dict[str, str] = {}
    if all(s is not None for s in schemas.values()):
        answer = admitted_schema(admitted, {k: s for k, s in schemas.items() if s is not None})
        schema_types = {f.name: str(f.type) for f in answer}
    tables = list(chosen.values())
    return CompiledQuery(
        sql=display.sql(dialect=DIALECT, comments=False),
        engine_sql=admitted.sql,
        relations={str(t.dataset_id): relation_of(t.dataset_id) for t in tables},
        tables=[t.name for t in tables],
        datasets={t.name: t.dataset_id for t in tables},
        schema_types=schema_types,
        lineage=_lineage(display, tables, list(schema_types)),
        reads={t.name: _named(admitted, t) for t in tables},
        loads={t.name: columns_read(admitted, [c.name for c in t.columns]) for t in tables},
        conditions=_conditions(display),
    )


def _types(table: CatalogTable) -> dict[str, str]:
    return {c.name: c.type for c in table.columns}


def _named(admitted: Admitted, table: CatalogTable) -> list[str]:
    named = {i.name.casefold() for i in admitted.query.find_all(exp.Identifier)}
    return [c.name for c in table.columns if c.name.casefold() in named]


def _conditions(query: exp.Expr) -> list[str]:
    where = query.args.get("where") if isinstance(query, exp.Select) else None
    if where is None:
        return []
    parts: list[exp.Expr] = []
    stack = [where.this]
    while stack:
        node = stack.pop().unnest()
        if isinstance(node, exp.And):
            stack += [node.expression, node.this]
        else:
            parts.append(node)
    return [p.sql(dialect=DIALECT) for p in parts]


def _lineage(
    query: exp.Expr, tables: list[CatalogTable], outputs: list[str]
) -> dict[str, list[ColumnSource]]:
    """Each answer column -> the catalog columns it derives from
    (:func:`rivergen.engine.lineage.query_lineage`, with the catalog's names)."""
    traced = query_lineage(query, {t.name: _types(t) for t in tables}, outputs)
    return {
        name: [ColumnSource(table=s.relation, column=s.column) for s in column.sources]
        for name, column in traced.columns.items()
    }


def run_compiled(
    compiled: CompiledQuery, tables: Mapping[UUID, Relation], limits: EngineLimits | None = None
) -> pa.Table:
    """The answer of ``compiled`` over each dataset's table (as its reader may see it)."""
    relations = {
        compiled.relations[str(dataset)]: t
        for dataset, t in tables.items()
        if str(dataset) in compiled.relations
    }
    return execute(compiled.engine_sql, relations, limits or EngineLimits())
