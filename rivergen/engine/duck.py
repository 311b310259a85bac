"""The engine: DuckDB embedded in the process (a Ray task) that runs a query, sandboxed.

Every query of the platform runs here: prompt SQL, ``query`` jobs (typed or SQL), filtered
previews and policies' row filters. Inputs arrive as Arrow tables and are registered as
relations, or scanned as the one Parquet file each may be. A query runs on its own
connection to an in-memory database with external access off (no files but its inputs' own,
no HTTP or extension installs), extension autoloading off, a memory limit, threads sized to
the caller's CPUs, and its configuration locked; a database is reused only by queries with the
same limits and the same readable files (:class:`_Sandboxes`). A timer interrupts a query past
its time.

Errors: SQL that does not bind (an unknown column, a type mismatch) is 422 ``sql_invalid``
with the engine's message and position; past the memory limit 422 ``query_too_large``; past
the time 422 ``query_timeout``. A result is whole or absent, never partial.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from rivergen.engine.sandbox import Admitted, admit, sql_invalid
from rivergen.engine.spec import ident, literal
from rivergen.errors import ValidationFailed
from rivergen.settings import EngineSettings


class EngineLimits(BaseModel):
    """What one query may use."""

    memory_mb: int = Field(2048, ge=64, description="DuckDB's memory limit for the query.")
    timeout_s: float = Field(300.0, gt=0, description="The query is interrupted after this.")
    threads: int = Field(1, ge=1, le=256, description="Worker threads (the task's CPUs).")

    @classmethod
    def of(cls, settings: EngineSettings, timeout_s: float | None = None) -> EngineLimits:
        """The settings' limits; a policy's shorter timeout wins."""
        timeout = settings.timeout_s if timeout_s is None else min(timeout_s, settings.timeout_s)
        return cls(
            memory_mb=settings.memory_mb,
            timeout_s=timeout,
            threads=settings.threads or max(1, math.ceil(settings.task_cpus)),
        )


def file_view(path: str) -> str:
    """The name of the view over a local Parquet file that every sandbox allowed to read it
    holds (made with the sandbox: a query naming its input so binds no view of its own)."""
    return "file_" + hashlib.sha256(path.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class ParquetFile:
    """An input DuckDB scans itself (its Parquet reader pushes projections and filters down):
    a local file, the only one it may open. For inputs no policy changes."""

    path: str


# An input: a table in memory, a lazy Arrow dataset (scanned with pushdown), or a local file.
Relation: TypeAlias = pa.Table | pads.Dataset | ParquetFile


def relation_schema(relation: Relation) -> pa.Schema:
    """The columns of an input, without reading its rows."""
    if isinstance(relation, ParquetFile):
        return pq.read_schema(relation.path)
    return relation.schema


def _database(limits: EngineLimits, files: tuple[str, ...]) -> duckdb.DuckDBPyConnection:
    """A new sandboxed in-memory database: only ``files`` readable, nothing installed or
    loaded, its limits set and its configuration locked."""
    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "threads": limits.threads,
            "memory_limit": f"{limits.memory_mb}MB",
            # DuckDB's own NULL order (last, both ways): sqlglot writes the admitted statement
            # for it, leaving out a NULLS LAST it takes as the default.
            "preserve_insertion_order": True,
        },
    )
    # The files are immutable dataset objects: their footers are read once.
    con.execute("SET parquet_metadata_cache = true")
    if files:
        # Set before external access goes off: exactly these files stay readable.
        con.execute(f"SET allowed_paths = [{', '.join(literal(f) for f in files)}]")
        for path in files:  # one view per file, made once (see ``file_view``)
            scan = f"SELECT * FROM read_parquet({literal(path)})"
            con.execute(f"CREATE VIEW {ident(file_view(path))} AS {scan}")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


class _Sandboxes:
    """Sandboxed databases kept for reuse: making one costs tens of milliseconds, a
    connection to one nothing. A database is shared only by queries with the same limits and
    the same readable files (so the same tenant's same dataset versions); each query has a
    connection of its own, whose views are temporary (they die with it). A few are kept, the
    least recently used dropped."""

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._databases: dict[tuple[int, int, tuple[str, ...]], duckdb.DuckDBPyConnection] = {}
        self._lock = threading.Lock()

    def connect(self, limits: EngineLimits, files: list[str]) -> duckdb.DuckDBPyConnection:
        key = (limits.threads, limits.memory_mb, tuple(sorted(set(files))))
        with self._lock:
            database = self._databases.pop(key, None)
            if database is None:
                database = _database(limits, key[2])
            self._databases[key] = database  # the most recent last
            while len(self._databases) > self._keep:
                # Dropped, not closed: a query still running on it keeps it alive.
                self._databases.pop(next(iter(self._databases)))
            return database.cursor()


_SANDBOXES = _Sandboxes(keep=4)


class Interrupt:
    """Stops a query from another thread (its job cancelled): at once if it is running, before
    it starts if not yet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self.fired = False

    def bind(self, connection: duckdb.DuckDBPyConnection | None) -> None:
        with self._lock:
            self._connection = connection
            if self.fired and connection is not None:
                connection.interrupt()

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._connection is not None:
                self._connection.interrupt()


_LINE = re.compile(r"LINE (\d+):")


def _engine_error(exc: duckdb.Error, limits: EngineLimits) -> ValidationFailed:
    message = str(exc)
    if isinstance(exc, duckdb.InterruptException):
        return ValidationFailed(
            f"the query ran past its {limits.timeout_s:g} s",
            code="query_timeout",
            details={"timeout_s": limits.timeout_s},
        )
    if isinstance(exc, duckdb.OutOfMemoryException):
        return ValidationFailed(
            f"the query needs more than its {limits.memory_mb} MB of memory: narrow it "
            "(filters, fewer columns, an aggregate) or ask for a larger limit",
            code="query_too_large",
            details={"memory_mb": limits.memory_mb},
        )
    first = message.splitlines()[0] if message else type(exc).__name__
    line = _LINE.search(message)
    details: dict[str, Any] = {"engine_message": message}
    if line is not None:
        details["line"] = int(line.group(1))
    return sql_invalid(first, **details)


def _plain(table: pa.Table) -> pa.Table:
    """DuckDB's HUGEINT (a sum or count of integers) arrives as ``decimal128(38, 0)``: back to
    ``int64`` where every value fits, as people expect a count or sum of integers to look."""
    for i, column in enumerate(table.schema):
        kind = column.type
        if pa.types.is_decimal(kind) and kind.scale == 0 and kind.precision == 38:
            try:
                table = table.set_column(i, column.name, table.column(i).cast(pa.int64()))
            except pa.ArrowInvalid:
                continue
    return table


def execute(
    sql: str,
    relations: Mapping[str, Relation],
    limits: EngineLimits,
    interrupt: Interrupt | None = None,
) -> pa.Table:
    """Run already-admitted (or platform-built) ``sql`` over ``relations`` in a fresh sandbox.
    Platform code that builds its own SQL (typed queries, row filters) calls this; text from
    people goes through :func:`run_sql`. ``interrupt`` may stop it from another thread."""
    files = [r.path for r in relations.values() if isinstance(r, ParquetFile)]
    con = _SANDBOXES.connect(limits, files)
    try:
        # Whatever the statement might change in the shared database is rolled back.
        con.execute("BEGIN TRANSACTION")
        for name, relation in relations.items():
            if isinstance(relation, ParquetFile):
                if name != file_view(relation.path):  # else the sandbox's own view
                    scan = f"SELECT * FROM read_parquet({literal(relation.path)})"
                    con.execute(f"CREATE TEMP VIEW {ident(name)} AS {scan}")
            else:
                con.register(name, relation)
        timer = threading.Timer(limits.timeout_s, con.interrupt)
        timer.start()
        if interrupt is not None:
            interrupt.bind(con)
        try:
            return _plain(con.sql(sql).to_arrow_table())
        except duckdb.Error as exc:
            raise _engine_error(exc, limits) from None
        finally:
            timer.cancel()
            if interrupt is not None:
                interrupt.bind(None)
    finally:
        con.close()  # rolls the transaction back


def run_sql(
    sql: str,
    relations: Mapping[str, Relation],
    limits: EngineLimits | None = None,
    *,
    resolve: Callable[[str], str | None] | None = None,
    interrupt: Interrupt | None = None,
) -> pa.Table:
    """Admit ``sql`` (:func:`rivergen.engine.sandbox.admit`) and run it over ``relations``.
    A table name resolves, case-insensitively, to the relation of that name unless
    ``resolve`` says otherwise."""
    admitted = admit(sql, resolve or resolver(relations))
    return execute(admitted.sql, relations, limits or EngineLimits(), interrupt)


def resolver(names: Mapping[str, Any]) -> Callable[[str], str | None]:
    """A case-insensitive lookup of ``names``."""
    folded = {name.casefold(): name for name in names}
    return lambda written: folded.get(written.casefold())


def admitted_schema(admitted: Admitted, schemas: Mapping[str, pa.Schema]) -> pa.Schema:
    """The answer's schema, by running the query over empty relations: proves the SQL binds
    (422 ``sql_invalid`` with the engine's message otherwise) before any data is staged."""
    empty = {name: schema.empty_table() for name, schema in schemas.items()}
    return execute(admitted.sql, empty, EngineLimits(timeout_s=30.0)).schema
