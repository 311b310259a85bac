"""A query job given as SQL: the datasets it names, pinned, and what each input must load.

Used by the ``query`` job kind (``compute/jobs/kinds.py``): :func:`admit_job_sql` admits the
SQL (:mod:`rivergen.engine.sandbox`), resolves every table it names to a dataset of the
workspace by name (exactly, else ignoring case when that is unambiguous), pins each version,
proves that the statement binds over the inputs' schemas (422 ``sql_invalid`` with the
engine's message before anything is staged), and records which columns each input needs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Protocol
from uuid import UUID

import pyarrow as pa
from pydantic import BaseModel, Field
from sqlglot import exp

from rivergen.engine.duck import (
    EngineLimits,
    Interrupt,
    Relation,
    admitted_schema,
    execute,
    relation_schema,
)
from rivergen.engine.lineage import QueryLineage, query_lineage
from rivergen.engine.memo import Memo
from rivergen.engine.sandbox import MAX_SQL_CHARS, Admitted, admit, parse
from rivergen.engine.spec import QuerySpec, check_query, spec_sql
from rivergen.engine.types import arrow_schema


class DatasetPin(BaseModel):
    dataset: UUID
    version: int = Field(ge=1)
    columns: list[str] | None = Field(
        None, description="The columns the query can read (None: all)."
    )


class SqlQuery(BaseModel):
    """A query job as SQL."""

    sql: str = Field(
        min_length=1,
        max_length=MAX_SQL_CHARS,
        description="One read-only query (SELECT, WITH, set operations) in DuckDB's dialect; "
        "each dataset is named as it is named in the workspace.",
    )
    limit: int | None = Field(
        None, ge=1, le=10_000_000, description="At most this many rows of the answer."
    )
    inputs: dict[str, DatasetPin] = Field(
        default_factory=dict,
        description="Set when the job is accepted: each table name read -> its dataset version.",
    )


class NamedDataset(Protocol):
    dataset: UUID
    version: int

    @property
    def schema_types(self) -> dict[str, str]: ...


class DatasetsById(Protocol):
    async def dataset(self, dataset: UUID, version: int | None) -> NamedDataset: ...


class NamedCatalog(Protocol):
    async def named(self, names: list[str]) -> Mapping[str, NamedDataset]:
        """The current versions of the datasets called ``names`` (each exactly, else ignoring
        case when only one matches); a name without a dataset is left out."""


def run_spec(
    spec: QuerySpec,
    tables: Mapping[UUID, Relation],
    limits: EngineLimits | None = None,
    interrupt: Interrupt | None = None,
) -> pa.Table:
    """The typed query over each dataset's table (checked first with
    :func:`rivergen.engine.spec.check_query`), on the engine."""
    relations = {f"input_{i}": table for i, table in enumerate(tables.values())}
    names = {dataset: f"input_{i}" for i, dataset in enumerate(tables)}
    schemas = {d: {f.name: str(f.type) for f in relation_schema(t)} for d, t in tables.items()}
    return execute(spec_sql(spec, names, schemas), relations, limits or EngineLimits(), interrupt)


def limited(sql: str, limit: int | None) -> str:
    """``sql`` with at most ``limit`` rows (the order it gives kept)."""
    return sql if limit is None else f"SELECT * FROM ({sql}) AS limited LIMIT {int(limit)}"


def columns_read(admitted: Admitted, columns: list[str]) -> list[str] | None:
    """The columns of an input the query can touch: those whose name appears anywhere in it
    (a superset: names are compared ignoring case; at least one, to count rows by); all of
    them (None) when it has ``*``,
    ``COLUMNS(...)`` or a NATURAL join."""
    query = admitted.query
    stars = [s for s in query.find_all(exp.Star) if not isinstance(s.parent, exp.Count)]
    if stars or any(j.args.get("method") for j in query.find_all(exp.Join)):
        return None
    if any(isinstance(n, exp.Func) and n.sql_name().upper() == "COLUMNS" for n in query.walk()):
        return None
    named = {i.name.casefold() for i in query.find_all(exp.Identifier)}
    # A relation needs a column even when only its rows are counted.
    return [c for c in columns if c.casefold() in named] or columns[:1]


_TABLES: Memo[tuple[str, ...]] = Memo()
_PROVEN: Memo[dict[str, list[str] | None]] = Memo()
_LINEAGES: Memo[QueryLineage] = Memo()


async def admit_job_sql(query: SqlQuery, catalog: NamedCatalog) -> SqlQuery:
    """Admit, resolve, pin and prove ``query`` (see the module)."""
    names = _TABLES.get(query.sql, lambda: _table_names(query.sql))
    found = await catalog.named(list(names))
    key = (
        query.sql,
        tuple((w, d.dataset, d.version, tuple(d.schema_types.items())) for w, d in found.items()),
    )
    read = _PROVEN.get(key, lambda: _proven(query.sql, found))
    inputs = {
        written: DatasetPin(dataset=d.dataset, version=d.version, columns=read[written])
        for written, d in found.items()
    }
    return query.model_copy(update={"inputs": inputs})


def _table_names(sql: str) -> tuple[str, ...]:
    """The names ``sql`` reads as tables (a first pass: admit refuses unknown ones on the
    second)."""
    names: list[str] = []

    def note(written: str) -> str:
        names.append(written)
        return written

    admit(sql, note)
    return tuple(names)


def _proven(sql: str, found: Mapping[str, NamedDataset]) -> dict[str, list[str] | None]:
    """Admit ``sql`` over the datasets ``found`` for its table names, prove it binds (over
    empty relations of their schemas) and the columns it reads of each."""
    relations = {written: f"input_{i}" for i, written in enumerate(found)}
    admitted = admit(sql, relations.get)
    schemas: dict[str, pa.Schema | None] = {
        relations[w]: arrow_schema(d.schema_types) for w, d in found.items()
    }
    if all(s is not None for s in schemas.values()):
        admitted_schema(admitted, {k: s for k, s in schemas.items() if s is not None})
    return {w: columns_read(admitted, list(d.schema_types)) for w, d in found.items()}


async def job_lineage(query: SqlQuery | QuerySpec, catalog: DatasetsById) -> QueryLineage:
    """The column lineage of a validated (pinned) query job, over dataset ids (as strings): the
    inputs' schemas from ``catalog``, the walk over the query in a thread (it is CPU work, and
    the job supervisor runs it beside the query)."""
    versions: dict[str, tuple[UUID, int | None]]
    if isinstance(query, SqlQuery):
        versions = {str(p.dataset): (p.dataset, p.version) for p in query.inputs.values()}
    else:
        versions = {str(query.dataset): (query.dataset, query.version)}
        versions |= {str(j.dataset): (j.dataset, j.version) for j in query.all_joins}
    schemas = {
        name: (await catalog.dataset(dataset, version)).schema_types
        for name, (dataset, version) in versions.items()
    }
    return await asyncio.to_thread(lineage_over, query, schemas)


def lineage_over(query: SqlQuery | QuerySpec, schemas: dict[str, dict[str, str]]) -> QueryLineage:
    """The column lineage of a pinned query job whose inputs (by dataset id, as strings) have
    ``schemas`` (worked out once for the same query over the same schemas)."""
    key = (type(query).__name__, query.model_dump_json(), json.dumps(schemas, sort_keys=True))
    return _LINEAGES.get(key, lambda: _lineage_over(query, schemas))


def _lineage_over(query: SqlQuery | QuerySpec, schemas: dict[str, dict[str, str]]) -> QueryLineage:
    tree: exp.Expr
    if isinstance(query, SqlQuery):
        relations = {w: str(p.dataset) for w, p in query.inputs.items()}
        admitted = admit(query.sql, relations.get)
        tree = admitted.query
        arrow = {name: arrow_schema(types) for name, types in schemas.items()}
        if all(s is not None for s in arrow.values()):
            answer = admitted_schema(admitted, {k: s for k, s in arrow.items() if s is not None})
            outputs = answer.names
        else:
            outputs = [p.alias_or_name for p in admitted.query.selects]
    else:
        ids = [str(query.dataset), *(str(j.dataset) for j in query.all_joins)]
        by_id = {UUID(name): name for name in ids}
        tree = parse(spec_sql(query, by_id, {d: schemas[n] for d, n in by_id.items()}))
        rights = [schemas[str(j.dataset)] for j in query.all_joins]
        first = rights[0] if query.join is not None else None
        rest = rights[1:] if query.join is not None else rights
        outputs = list(check_query(query, schemas[str(query.dataset)], first, joined=rest))
    return query_lineage(tree, schemas, outputs)
