"""Internal Compute's query engine on each node: a long-lived actor that runs query jobs.

A query job's work (read its inputs, run DuckDB, write the result) is short, often well under
a second, and a fresh worker pays for it twice: a new sandboxed database (about 20 ms) whose
Parquet footers are read again, and a worker leased for the task. One engine actor per node
keeps its databases warm (:mod:`rivergen.engine.duck` reuses them by limits and inputs) and
takes a query with one actor call. Queries run in its threads, each on its own connection, at
most ``RIVERGEN_ENGINE__NODE_QUERIES`` at once (more wait in the actor); the actor reserves no
Ray CPU, so it never holds a core that kernels and training wait for.

Which node: the one that the job's inputs hash to among the alive nodes (rendezvous hashing),
so the same datasets go to the same node's object cache while the cluster stays the same.
The actor is detached and restarted by Ray when its process dies (the job's attempt fails
and the supervisor retries it); it is made the first time its node is chosen.

Which engine: :func:`run_query_job` sends a job whose inputs' stored (Parquet) bytes add up to
more than ``RIVERGEN_ENGINE__DISTRIBUTED_MIN_BYTES`` to the distributed engine (Daft on the
cluster, :mod:`compute.distributed`); one that Daft refuses falls back to a node's engine when
its inputs fit one node's query memory (the job's summary says why), else fails with 422
``query_too_large``.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import ray
from ray.exceptions import RayActorError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from compute.distributed import ENGINE_NAME, Refusal, distributed_engine
from compute.staging import QueryInput, encode_table, query_input
from compute.tasks import cpu_nodes, forget_actor, named_actor
from rivergen.datasets.schemas import StagedVersion
from rivergen.engine.duck import (
    EngineLimits,
    Interrupt,
    ParquetFile,
    execute,
    file_view,
)
from rivergen.engine.query import SqlQuery, limited, run_spec
from rivergen.engine.sandbox import admitted_sql
from rivergen.engine.spec import QuerySpec
from rivergen.errors import ValidationFailed
from rivergen.jobs.kinds import JobContext, KindOutput
from rivergen.settings import Settings

Query = QuerySpec | SqlQuery
T = TypeVar("T")

ACTOR_PREFIX = "rivergen-query-engine-"
# How long the list of alive nodes is trusted before it is asked again.
_NODES_TTL_S = 10.0


def run_query(
    settings: Settings,
    limits: EngineLimits,
    query: Query,
    inputs: list[QueryInput],
    interrupt: Interrupt | None = None,
) -> Any:
    """Read each input as the job's submitter may see it, register it, run the query (a
    ``pyarrow.Table``): in one process, so an input never travels between workers."""
    found = {i.relation: query_input(settings, i) for i in inputs}
    # A stored file is scanned through the sandbox's own view of it (no view per query).
    named = {
        r: file_view(rel.path) if isinstance(rel, ParquetFile) else r for r, rel in found.items()
    }
    relations = {named[r]: rel for r, rel in found.items()}
    if isinstance(query, SqlQuery):
        names = {i.name: named[i.relation] for i in inputs if i.name is not None}
        sql = admitted_sql(limited(query.sql, query.limit), names)
        return execute(sql, relations, limits, interrupt)
    tables = {i.dataset: found[i.relation] for i in inputs}
    return run_spec(query, tables, limits, interrupt)


def query_and_encode(
    settings: Settings,
    limits: EngineLimits,
    query: Query,
    inputs: list[QueryInput],
    key: str,
    interrupt: Interrupt | None = None,
) -> tuple[StagedVersion, Callable[[], None]]:
    """The query, and its answer encoded as the job's result object ``key``, in the same
    process (the rows never travel back through the supervisor); and the call that stores it
    there."""
    return encode_table(settings, run_query(settings, limits, query, inputs, interrupt), key)


# How long a stored result waits for its job's supervisor to ask after it (:meth:`stored`).
_STORED_KEPT_S = 600.0


class QueryEngine:
    """The actor class: one per node (see :func:`query_engine`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._storing: dict[str, tuple[float, asyncio.Future[None]]] = {}

    async def run(
        self,
        settings: Settings,
        limits: EngineLimits,
        query: Query,
        inputs: list[QueryInput],
        key: str,
    ) -> StagedVersion:
        """:func:`query_and_encode` in a thread of this actor, answered as soon as the result
        is encoded; it is stored in the background meanwhile (:meth:`stored` says when), so
        the caller records it while it is written. A cancelled call (the job's) interrupts the
        query."""
        interrupt = Interrupt()
        try:
            staged, store = await asyncio.to_thread(
                self._counted, query_and_encode, settings, limits, query, inputs, key, interrupt
            )
        except asyncio.CancelledError:
            interrupt.fire()
            raise
        now = time.monotonic()
        for old in [k for k, (at, done) in self._storing.items() if now - at > _STORED_KEPT_S]:
            self._storing.pop(old)  # its supervisor never asked (it died): forgotten
        self._storing[key] = (now, asyncio.ensure_future(asyncio.to_thread(store)))
        return staged

    async def stored(self, key: str) -> None:
        """Once the result ``key`` that :meth:`run` answered is stored (its error if it could
        not be; ``KeyError`` if this engine never had it: its process was restarted)."""
        _, storing = self._storing[key]
        try:
            await asyncio.shield(storing)
        finally:
            if storing.done():
                self._storing.pop(key, None)

    def in_flight(self) -> int:
        """Queries whose threads are still running here (a cancelled one stops within
        moments: its query is interrupted)."""
        with self._lock:
            return self._in_flight

    def _counted(self, work: Callable[..., T], *args: Any) -> T:
        with self._lock:
            self._in_flight += 1
        try:
            return work(*args)
        finally:
            with self._lock:
                self._in_flight -= 1


QueryEngineActor = ray.remote(QueryEngine)


class _Nodes:
    """The alive nodes that can run work, asked of the GCS at most every few seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nodes: list[str] = []
        self._at = 0.0

    def alive(self) -> list[str]:
        with self._lock:
            if not self._nodes or time.monotonic() - self._at > _NODES_TTL_S:
                self._nodes = sorted(node for node, _ in cpu_nodes())
                self._at = time.monotonic()
            return list(self._nodes)

    def forget(self) -> list[str]:
        """Ask again next time; the nodes known until now."""
        with self._lock:
            known, self._nodes = self._nodes, []
            return known


_NODES = _Nodes()


def _score(node: str, keys: list[str]) -> bytes:
    return hashlib.sha256("\n".join([node, *sorted(keys)]).encode()).digest()


def query_engine(settings: Settings, keys: list[str]) -> Any:
    """The engine actor of the node the inputs ``keys`` hash to (made if it is not there)."""
    node = max(_NODES.alive(), key=lambda n: _score(n, keys))
    namespace, name = settings.jobs.namespace, ACTOR_PREFIX + node

    def find() -> Any:
        return QueryEngineActor.options(
            name=name,
            namespace=namespace,
            get_if_exists=True,
            lifetime="detached",
            max_restarts=-1,
            max_task_retries=0,
            num_cpus=0,
            max_concurrency=settings.engine.node_queries,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
        ).remote()

    return named_actor(namespace, name, find)


def forget_engines(settings: Settings) -> None:
    """Choose again at the next query (a call to an engine failed: its node may be gone)."""
    for node in _NODES.forget():
        forget_actor(settings.jobs.namespace, ACTOR_PREFIX + node)


SINGLE_NODE = "duckdb"


async def run_query_job(
    ctx: JobContext[Query], inputs: list[QueryInput], stored: int
) -> KindOutput:
    """Run a query job over ``inputs`` (``stored`` bytes of Parquet in all) where it belongs:
    on Daft over the cluster past ``RIVERGEN_ENGINE__DISTRIBUTED_MIN_BYTES``, else (or when
    Daft refuses it and the inputs fit one node) on a node's engine actor. The result object
    is written by the engine that ran it; the summary names that engine (``engine``), the
    inputs' size (``input_bytes``) and, after a fallback, Daft's reason
    (``distributed_refused``)."""
    engine = ctx.settings.engine
    summary: dict[str, Any] = {"input_bytes": stored}
    if stored > engine.distributed_min_bytes:
        ctx.progress(10, f"querying on the cluster ({ENGINE_NAME})")
        answer = await _distributed(ctx, inputs)
        if not isinstance(answer, Refusal):
            return KindOutput(answer, summary | {"engine": ENGINE_NAME})
        summary["distributed_refused"] = answer.reason
        if stored > engine.memory_mb * 1024 * 1024:
            raise ValidationFailed(
                f"the inputs ({stored} bytes stored) are past one node's {engine.memory_mb} "
                f"MB and the distributed engine cannot run this query: {answer.reason}",
                code="query_too_large",
                details={
                    "input_bytes": stored,
                    "memory_mb": engine.memory_mb,
                    "distributed_refused": answer.reason,
                },
            )
    ctx.progress(10, "querying")
    limits = EngineLimits.of(engine)
    actor = query_engine(ctx.settings, [i.key for i in inputs])
    try:
        staged: StagedVersion = await ctx.track(
            actor.run.remote(ctx.settings, limits, ctx.params, inputs, ctx.result_key)
        )
    except RayActorError:
        forget_engines(ctx.settings)  # its node may be gone: the retry chooses again
        raise
    # The engine stores the result while the supervisor records it.
    return KindOutput(
        staged, summary | {"engine": SINGLE_NODE}, stored=actor.stored.remote(ctx.result_key)
    )


async def _distributed(ctx: JobContext[Query], inputs: list[QueryInput]) -> Any:
    """The result written by the distributed engine (a ``StagedVersion``), or its
    :class:`Refusal`; past the engine's timeout, 422 ``query_timeout``."""
    timeout = ctx.settings.engine.timeout_s
    call = distributed_engine(ctx.settings).run.remote(
        ctx.settings, ctx.params, inputs, ctx.result_key
    )
    ctx.track(call)
    try:
        return await asyncio.wait_for(asyncio.wrap_future(call.future()), timeout)
    except TimeoutError:
        ray.cancel(call)
        raise ValidationFailed(
            f"the query ran past its {timeout:g} s",
            code="query_timeout",
            details={"timeout_s": timeout, "engine": ENGINE_NAME},
        ) from None
