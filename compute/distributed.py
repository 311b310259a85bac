"""Queries past one node: Daft (its Ray runner, "Flotilla") runs the query over the cluster.

A query job whose inputs are larger than ``RIVERGEN_ENGINE__DISTRIBUTED_MIN_BYTES`` comes here
(``compute/jobs/kinds.py``); the planner, the shuffles, joins and aggregates are Daft's, never
the platform's. What runs where:

* one named, detached actor (:class:`DistributedEngine`, no CPU reserved) is Daft's driver: it
  admits the SQL (:mod:`rivergen.engine.sandbox`, the same check as the single-node engine),
  plans it with Daft over empty relations of the governed schemas (SQL Daft cannot parse,
  type or translate is refused here, before anything is read), then runs it and returns the
  answer, named and typed as DuckDB would give it;
* read tasks, one per slice of each input's Parquet row groups, read object storage
  themselves (never through the driver) and apply the submitter's governance to their slice
  with :func:`rivergen.services.governance.apply_to_table`, the function the single-node path
  uses (rows filtered, columns masked, denied columns dropped): Daft only ever sees the
  governed partitions;
* Daft's workers (one actor per node) run the plan over those partitions.

A refusal (SQL Daft does not support, or a Daft error while planning or running) is an
answer, not a failure: the caller falls back to the single-node engine when the inputs fit
it. Errors of the cluster (a lost node) are raised, so the job's attempt is retried.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import ray
from sqlglot import exp

from compute.daft_sql import exists_as_aggregates, typed_decimals
from compute.objects import ArrowObjects
from compute.staging import QueryInput, stage_table
from rivergen.datasets.schemas import StagedVersion
from rivergen.engine.duck import EngineLimits, execute
from rivergen.engine.query import SqlQuery, limited
from rivergen.engine.sandbox import DIALECT, admit, parse
from rivergen.engine.spec import QuerySpec, spec_sql
from rivergen.services.governance import Governed, apply_to_table, changes_data, hash_key
from rivergen.settings import Settings

# Daft reports usage to a third party unless told not to; the engine's processes never do.
NO_TELEMETRY = {"DO_NOT_TRACK": "1", "DAFT_ANALYTICS_ENABLED": "0", "SCARF_NO_ANALYTICS": "1"}
ENGINE_ACTOR = "rivergen-distributed-engine"
# A read task parses and governs one slice of row groups: a quarter core.
READ_CPUS = 0.25
# Row groups are grouped into read tasks of about this many stored bytes.
SLICE_BYTES = 64 * 1024 * 1024

ENGINE_NAME = "daft"
ALL_ROWS = 2**63 - 1
# DuckDB names and types the answer, over empty relations.
_SHAPE_LIMITS = EngineLimits(memory_mb=256, timeout_s=30.0)


@dataclass(frozen=True)
class Refusal:
    """Why the distributed engine did not run a query (the single-node engine may)."""

    reason: str


def _daft() -> Any:
    """Daft, on the Ray runner of the cluster this process belongs to."""
    os.environ.update(NO_TELEMETRY)
    import daft

    daft.set_runner_ray(noop_if_initialized=True)
    return daft


def _for_daft(table: pa.Table) -> pa.Table:
    """Arrow's view types (string_view, binary_view) as the large types Daft reads natively
    (Daft takes a view column for a Python object column)."""
    fields = []
    for field in table.schema:
        kind = field.type
        if pa.types.is_string_view(kind):
            kind = pa.large_string()
        elif pa.types.is_binary_view(kind):
            kind = pa.large_binary()
        fields.append(field.with_type(kind))
    schema = pa.schema(fields)
    return table if schema == table.schema else table.cast(schema)


def _as_single_node(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Daft's answer with the column names and types the single-node engine gives
    (``schema``: DuckDB's answer over the empty relations). Daft names an unaliased
    ``sum(x)`` ``x`` where DuckDB says ``sum(x)``; a type that does not cast stays Daft's."""
    if table.num_columns != len(schema):
        return table
    table = table.rename_columns(schema.names)
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return table


def _governed(inp: QueryInput) -> Governed | None:
    return inp.governed if inp.governed is not None and changes_data(inp.governed) else None


def govern_slice(settings: Settings, inp: QueryInput, table: pa.Table) -> pa.Table:
    """One slice of an input as its reader may see it (as ``compute.staging.read_dataset``
    gives the whole input), in the types Daft takes."""
    governed = _governed(inp)
    if governed is not None:
        table = apply_to_table(table, governed, hash_key(settings, governed))
    if inp.columns is not None:
        table = table.select([c for c in inp.columns if c in table.column_names])
    return _for_daft(table)


def read_slice(settings: Settings, inp: QueryInput, row_groups: list[int]) -> tuple[Any, Any]:
    """Row groups of one input's Parquet object, read from object storage by this task and
    governed (a row filter may name columns the query does not read: all are read then), as
    a Daft partition and its metadata (two objects: the driver fetches only the second)."""
    objects = ArrowObjects.from_settings(settings)
    columns = None if _governed(inp) is not None else inp.columns
    with objects.filesystem.open_input_file(objects.path(inp.key)) as handle:
        parquet = pq.ParquetFile(handle)
        table = parquet.read_row_groups(row_groups, columns=columns)
    _daft()
    from daft.recordbatch import MicroPartition
    from daft.runners.partitioning import PartitionMetadata

    partition = MicroPartition.from_arrow(govern_slice(settings, inp, table))
    return partition, [PartitionMetadata.from_table(partition)]


# Spread over the nodes, as Ray Data schedules its reads: each slice reads object storage
# itself, so any node will do, and the default (fill the caller's node first) would leave the
# cluster's other nodes idle while one node reads a dataset past one node's size.
_read_slice = ray.remote(
    num_cpus=READ_CPUS, max_retries=0, num_returns=2, scheduling_strategy="SPREAD"
)(read_slice)


def _frame(daft: Any, schema: pa.Schema, parts: list[Any]) -> Any:
    """A Daft DataFrame over partitions that stay where the read tasks left them (Daft's own
    in-memory scan over object refs, as its ``from_ray_dataset`` builds one, without a pass
    through Ray Data)."""
    from daft.logical.builder import LogicalPlanBuilder
    from daft.runners import get_or_create_runner
    from daft.runners.ray_runner import (
        PartitionMetadataAccessor,
        RayMaterializedResult,
        RayPartitionSet,
    )

    partitions = RayPartitionSet()
    for index, (partition, metadata) in enumerate(parts):
        partitions.set_partition(
            index, RayMaterializedResult(partition, PartitionMetadataAccessor(metadata), 0)
        )
    runner: Any = get_or_create_runner()
    entry = runner.put_partition_set_into_cache(partitions)
    builder = LogicalPlanBuilder.from_in_memory_scan(
        entry,
        schema=daft.Schema.from_pyarrow_schema(schema),
        num_partitions=partitions.num_partitions(),
        size_bytes=partitions.size_bytes() or 0,
        num_rows=len(partitions),
    )
    frame = daft.DataFrame(builder)
    frame._result_cache = entry
    return frame


def slices(metadata: pq.FileMetaData, slice_bytes: int = SLICE_BYTES) -> list[list[int]]:
    """Consecutive row groups in groups of about ``slice_bytes`` stored bytes (at least one
    group, so an empty object still gives its schema)."""
    groups: list[list[int]] = [[]]
    size = 0
    for index in range(metadata.num_row_groups):
        stored = metadata.row_group(index).total_byte_size
        if groups[-1] and size + stored > slice_bytes:
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += stored
    return groups


def governed_schema(settings: Settings, inp: QueryInput) -> pa.Schema:
    """The schema of an input as its reader sees it, from the object's footer alone."""
    objects = ArrowObjects.from_settings(settings)
    schema = pq.read_schema(objects.path(inp.key), filesystem=objects.filesystem)
    if _governed(inp) is None and inp.columns is not None:
        schema = pa.schema([schema.field(c) for c in inp.columns if c in schema.names])
    return govern_slice(settings, inp, schema.empty_table()).schema


def top_n(tree: exp.Expr) -> exp.Expr:
    """``tree`` with every ``ORDER BY`` that has no ``LIMIT`` given one no answer reaches
    (2^63 - 1 rows): Daft runs an ordered query as a top-N, never as its sampled sort, whose
    boundary task reserves a whole CPU that a node busy with Serve's replicas may never have.
    The answer is collected in one process either way."""
    tree = tree.copy()
    for node in tree.find_all(exp.Select, exp.SetOperation):
        if node.args.get("order") and not any(
            node.args.get(k) for k in ("limit", "offset", "fetch")
        ):
            node.set("limit", exp.Limit(expression=exp.Literal.number(ALL_ROWS)))
    return tree


def query_sql(
    query: SqlQuery | QuerySpec, inputs: list[QueryInput], schemas: Mapping[str, pa.Schema]
) -> str:
    """The statement to run, over the inputs' relations: SQL admitted by the sandbox, or the
    typed query compiled as the single-node engine compiles it; written so Daft types and
    decorrelates it as DuckDB would answer it (:mod:`compute.daft_sql`); sorts as top-N
    (:func:`top_n`)."""
    if isinstance(query, SqlQuery):
        names = {i.name: i.relation for i in inputs if i.name is not None}
        folded = {name.casefold(): relation for name, relation in names.items()}

        def resolve(written: str) -> str | None:
            return names.get(written) or folded.get(written.casefold())

        tree: exp.Expr = admit(limited(query.sql, query.limit), resolve).query
    else:
        relations = {i.dataset: i.relation for i in inputs}
        types = {i.dataset: {f.name: str(f.type) for f in schemas[i.relation]} for i in inputs}
        tree = parse(spec_sql(query, relations, types))
    tree = typed_decimals(exists_as_aggregates(tree, schemas), schemas)
    return top_n(tree).sql(dialect=DIALECT, comments=False)


# Ray's errors as Daft passes them on: a failure of the cluster, for a retry of the attempt.
_CLUSTER_ERRORS = (
    "RayActorError",
    "ActorDiedError",
    "ActorUnavailableError",
    "ObjectLostError",
    "OwnerDiedError",
    "WorkerCrashedError",
    "NodeDiedError",
    "OutOfMemoryError",
    "RaySystemError",
    "ObjectStoreFullError",
)


def _refusal(exc: BaseException) -> Refusal | None:
    """A Daft error (unsupported SQL, a type it cannot plan, a kernel it lacks) is a refusal;
    anything else (the cluster's errors, also as Daft passes them on) is not."""
    # Raised in a Daft worker, it comes as Ray's error of the task, a subclass of Daft's
    # whose cause is Daft's error itself.
    cause = getattr(exc, "cause", None)
    said_by = cause if isinstance(cause, BaseException) else exc
    name = type(said_by).__name__
    text = str(said_by)
    classes = {(c.__module__, c.__name__) for c in type(exc).__mro__}
    daft_error = (
        any(module.startswith("daft") for module, _ in classes)
        or bool(
            {n for _, n in classes} & {"PanicException", "InvalidSQLException", "DaftCoreException"}
        )
        or "DaftError::" in text
    )
    if not daft_error or any(lost in text for lost in _CLUSTER_ERRORS):
        return None
    said = " ".join(line.strip() for line in text.splitlines() if line.strip()) or name
    return Refusal(said[:1000])


def _daft_call(call: Any) -> Any:
    """``call()``, with a Daft error returned as a :class:`Refusal`."""
    try:
        return call()
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        refusal = _refusal(exc)
        if refusal is None:
            raise
        return refusal


def _plan(daft: Any, sql: str, frames: Mapping[str, Any]) -> Refusal | None:
    """Daft's distributed plan of ``sql`` over ``frames`` (empty ones), built but not run:
    SQL it cannot parse, bind, type or translate is refused before any data is read."""
    from daft.context import get_context
    from daft.daft import DistributedPhysicalPlan

    def plan() -> None:
        config = get_context().daft_execution_config
        optimized = daft.sql(sql, **frames)._builder.optimize(config)
        DistributedPhysicalPlan.from_logical_plan_builder(optimized._builder, "plan", config)

    planned = _daft_call(plan)
    return planned if isinstance(planned, Refusal) else None


def run_distributed(
    settings: Settings,
    query: SqlQuery | QuerySpec,
    inputs: list[QueryInput],
    slice_bytes: int = SLICE_BYTES,
) -> pa.Table | Refusal:
    """Run ``query`` over ``inputs`` on Daft across the cluster (call it in a process of the
    cluster: the :class:`DistributedEngine` actor); its answer, or why Daft refused it."""
    daft = _daft()
    schemas = {i.relation: governed_schema(settings, i) for i in inputs}
    sql = query_sql(query, inputs, schemas)
    empty = {name: daft.from_arrow(schema.empty_table()) for name, schema in schemas.items()}
    refused = _plan(daft, sql, empty)
    if refused is not None:
        return refused
    shape = execute(sql, {n: s.empty_table() for n, s in schemas.items()}, _SHAPE_LIMITS).schema
    frames = {}
    for inp in inputs:
        objects = ArrowObjects.from_settings(settings)
        metadata = pq.read_metadata(objects.path(inp.key), filesystem=objects.filesystem)
        parts = [
            _read_slice.remote(settings, inp, groups) for groups in slices(metadata, slice_bytes)
        ]
        frames[inp.relation] = _frame(daft, schemas[inp.relation], parts)
    # A Daft error while running (a kernel it lacks for these types) is a refusal too.
    answer = _daft_call(lambda: daft.sql(sql, **frames).to_arrow())
    return answer if isinstance(answer, Refusal) else _as_single_node(answer, shape)


class DistributedEngine:
    """Daft's driver on the cluster: one long-lived process, so Daft's runner and its workers
    (actors it owns) outlive any one query. It runs one query at a time."""

    def __init__(self) -> None:
        os.environ.update(NO_TELEMETRY)

    def run(
        self,
        settings: Settings,
        query: SqlQuery | QuerySpec,
        inputs: list[QueryInput],
        key: str,
        slice_bytes: int = SLICE_BYTES,
    ) -> StagedVersion | Refusal:
        """The answer written as the result object ``key`` (the rows never travel to the
        caller), or why Daft refused the query."""
        answer = run_distributed(settings, query, inputs, slice_bytes)
        if isinstance(answer, Refusal):
            return answer
        return stage_table(settings, answer, key)


DistributedEngineActor = ray.remote(DistributedEngine)


def distributed_engine(settings: Settings) -> Any:
    """The engine's actor (created on first use; Ray restarts it when its process dies)."""
    return DistributedEngineActor.options(
        name=ENGINE_ACTOR,
        namespace=settings.jobs.namespace,
        lifetime="detached",
        get_if_exists=True,
        num_cpus=0,
        max_restarts=-1,
        max_concurrency=1,
        runtime_env={"env_vars": NO_TELEMETRY},
    ).remote()
