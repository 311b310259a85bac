"""TPC-H on the distributed engine: the 22 queries on Daft over a three-node Ray cluster against
the single-node engine (DuckDB) on the same objects.

    python -m bench.tpch_cluster [--scale 0.1] [--runs 1] [--only q01,q21] [--slice-mb 4]
        (the services' env exported; progress on stderr, one JSON line last, also kept in
        bench/.work/tpch_cluster/sf<scale>.json)

Data: the 8 tables of `bench.tpch` (`tpchgen-cli` Parquet cached in `bench/.work/tpch/`),
written once per run into the platform's object storage as the platform writes a dataset
version (`compute.objects.PARQUET_LAYOUT`), under a prefix of this run, deleted at the end.

The cluster: three Ray nodes of one CPU each on this machine (`ray.cluster_utils.Cluster`:
one head and two workers, each a raylet with its own object store), ports of the OS's choice
and a temp dir of this run; this process is its driver.

Each query is admitted as a SQL job's query is (each table it names pinned with the columns it
reads) and run

* distributed: by the platform's distributed engine actor (`compute.distributed`: read tasks
  per slice of `--slice-mb` stored MB of row groups, Daft's Ray runner) writing its answer as
  a result object, as a query job past `RIVERGEN_ENGINE__DISTRIBUTED_MIN_BYTES` runs; when
  Daft refuses the query, the single-node engine answers it (the job's fallback) and the
  refusal is recorded;
* single node: `compute.engine.query_and_write` (what a node's engine actor runs: DuckDB with
  the machine's 2 threads, inputs read from object storage) in this process.

Both answers are read back and compared: same columns and rows, in order (rows that tie on
the query's order may come in either order: then as sorted rows), decimals exactly and floats
to 1e-9 relative. Times are wall-clock seconds from the call to the written result, medians of
`--runs` after one warm-up of each engine on q06.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import ray

from bench.tpch import TABLES, generate, queries, same_value
from compute.distributed import ENGINE_NAME, NO_TELEMETRY, Refusal, distributed_engine
from compute.engine import query_and_write
from compute.objects import ArrowObjects
from compute.staging import QueryInput
from rivergen.engine.duck import EngineLimits
from rivergen.engine.query import DatasetPin, SqlQuery, columns_read
from rivergen.engine.sandbox import admit
from rivergen.jsonvalues import json_value
from rivergen.settings import Settings, load_settings

HERE = Path(__file__).resolve().parent
OUT = HERE / ".work" / "tpch_cluster"
NODES = 3
Tables = dict[str, str]
FALLBACK = "single-node fallback"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def three_nodes() -> Iterator[None]:
    """Three one-CPU Ray nodes on this machine, this process their driver."""
    from ray.cluster_utils import Cluster

    temp_dir = tempfile.mkdtemp(prefix="rg-tpchc-", dir="/tmp")
    os.environ.update(NO_TELEMETRY)
    head = {"num_cpus": 1, "include_dashboard": False, "temp_dir": temp_dir}
    cluster = Cluster(initialize_head=True, head_node_args=head)
    try:
        for _ in range(NODES - 1):
            cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, logging_level=logging.ERROR, configure_logging=False)
        cluster.wait_for_nodes()
        yield
    finally:
        ray.shutdown()
        cluster.shutdown()  # type: ignore[no-untyped-call]
        shutil.rmtree(temp_dir, ignore_errors=True)


def store(settings: Settings, directory: Path, prefix: str) -> tuple[Tables, Any, int]:
    """Each table written as one dataset object: its key, its columns, the bytes stored."""
    objects = ArrowObjects.from_settings(settings)
    keys, columns, stored = {}, {}, 0
    for name in TABLES:
        table = pq.read_table(directory / f"{name}.parquet")
        keys[name] = f"{prefix}/{name}.parquet"
        stored += objects.write_parquet(keys[name], table)
        columns[name] = table.column_names
    return keys, columns, stored


def job(sql: str, keys: Tables, columns: Any) -> tuple[SqlQuery, list[QueryInput]]:
    """The query as a validated SQL job carries it, and the inputs its engine reads."""
    ids = {name: uuid.uuid5(uuid.NAMESPACE_URL, keys[name]) for name in TABLES}
    named = [n for n in TABLES if n in admit(sql, lambda w: w).relations]
    relations = {n: f"input_{i}" for i, n in enumerate(named)}
    admitted = admit(sql, relations.get)
    query = SqlQuery(
        sql=sql,
        inputs={
            n: DatasetPin(dataset=ids[n], version=1, columns=columns_read(admitted, columns[n]))
            for n in named
        },
    )
    inputs = [
        QueryInput(
            relation=relations[n],
            name=n,
            dataset=ids[n],
            key=keys[n],
            columns=query.inputs[n].columns,
        )
        for n in named
    ]
    return query, inputs


def rows(table: pa.Table) -> list[list[Any]]:
    return [[json_value(v) for v in row.values()] for row in table.to_pylist()]


def difference(expected: pa.Table, got: pa.Table) -> str | None:
    """None when the answers are equal (see the module), else what differs."""
    if got.column_names != expected.column_names:
        return f"columns {got.column_names} != {expected.column_names}"
    if got.num_rows != expected.num_rows:
        return f"{got.num_rows} rows != {expected.num_rows}"

    def equal(a: list[list[Any]], b: list[list[Any]]) -> bool:
        return all(
            all(same_value(x, y) for x, y in zip(r, s, strict=True))
            for r, s in zip(a, b, strict=True)
        )

    want, have = rows(expected), rows(got)
    if equal(want, have):
        return None

    def order(r: list[Any]) -> list[tuple[bool, str]]:
        return [(v is None, f"{v:030.9f}" if isinstance(v, int | float) else str(v)) for v in r]

    if equal(sorted(want, key=order), sorted(have, key=order)):
        return None
    first = next(i for i, (r, s) in enumerate(zip(want, have, strict=True)) if r != s)
    return f"row {first}: {have[first]} != {want[first]}"


class Engines:
    """The two engines over the stored tables, each answer written and read back."""

    def __init__(self, settings: Settings, slice_bytes: int, prefix: str) -> None:
        self.settings = settings
        self.slice_bytes = slice_bytes
        self.prefix = prefix
        self.objects = ArrowObjects.from_settings(settings)
        self.limits = EngineLimits(memory_mb=8192, timeout_s=600, threads=os.cpu_count() or 2)
        self.engine = distributed_engine(settings)

    def _read(self, key: str) -> pa.Table:
        try:
            return self.objects.read_parquet(key)
        finally:
            self.objects.delete(key)

    def distributed(self, query: SqlQuery, inputs: list[QueryInput]) -> tuple[float, Any]:
        key = f"{self.prefix}/results/{uuid.uuid4().hex}.parquet"
        started = time.perf_counter()
        done = ray.get(self.engine.run.remote(self.settings, query, inputs, key, self.slice_bytes))
        seconds = time.perf_counter() - started
        return seconds, done if isinstance(done, Refusal) else self._read(key)

    def single_node(self, query: SqlQuery, inputs: list[QueryInput]) -> tuple[float, pa.Table]:
        key = f"{self.prefix}/results/{uuid.uuid4().hex}.parquet"
        started = time.perf_counter()
        query_and_write(self.settings, self.limits, query, inputs, key)
        return time.perf_counter() - started, self._read(key)


def run_query(
    engines: Engines, name: str, query: SqlQuery, inputs: list[QueryInput], runs: int
) -> dict[str, Any]:
    distributed: list[float] = []
    single: list[float] = []
    refused: str | None = None
    answer: pa.Table | None = None
    expected: pa.Table | None = None
    for _ in range(runs):
        seconds, done = engines.distributed(query, inputs)
        if isinstance(done, Refusal):
            refused = done.reason
        else:
            distributed.append(seconds)
            answer = done
        seconds, expected = engines.single_node(query, inputs)
        single.append(seconds)
    assert expected is not None
    engine = FALLBACK if refused is not None else ENGINE_NAME
    different = difference(expected, answer) if answer is not None else None
    found = {
        "query": name,
        "engine": engine,
        "equal": refused is None and different is None,
        "difference": different,
        "refused": refused,
        "rows": expected.num_rows,
        "distributed_s": round(statistics.median(distributed), 3) if distributed else None,
        "single_node_s": round(statistics.median(single), 3),
    }
    log(
        f"{name}: {engine:>20}  equal={found['equal']!s:5}  "
        f"daft {found['distributed_s'] or '-':>7} s  single node {found['single_node_s']:>7} s"
        + (f"  ({refused or different})" if refused or different else "")
    )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--only", default="", help="queries, comma-separated (q01,q06)")
    parser.add_argument("--slice-mb", type=float, default=4.0, help="stored MB per read task")
    args = parser.parse_args()
    chosen = queries([q for q in args.only.split(",") if q] or None)
    directory = generate(args.scale)
    settings = load_settings()
    prefix = f"bench/tpch-cluster/{uuid.uuid4().hex}"
    began = time.perf_counter()
    with three_nodes():
        keys, columns, stored = store(settings, directory, prefix)
        log(f"TPC-H SF {args.scale:g}: {stored / 1e6:.1f} MB stored, {NODES} nodes")
        engines = Engines(settings, int(args.slice_mb * 1024 * 1024), prefix)
        try:
            warm = job(queries(["q06"])["q06"], keys, columns)
            engines.distributed(*warm)
            engines.single_node(*warm)
            results = [
                run_query(engines, name, *job(sql, keys, columns), args.runs)
                for name, sql in chosen.items()
            ]
        finally:
            for key in keys.values():
                engines.objects.delete(key)
    on_daft = [r["query"] for r in results if r["engine"] == ENGINE_NAME]
    summary = {
        "benchmark": "tpch_cluster",
        "scale": args.scale,
        "nodes": NODES,
        "runs": args.runs,
        "slice_mb": args.slice_mb,
        "stored_bytes": stored,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "on_daft": len(on_daft),
        "equal": sum(r["equal"] for r in results),
        "queries": len(results),
        "distributed_total_s": round(sum(r["distributed_s"] or 0 for r in results), 2),
        "single_node_total_s": round(sum(r["single_node_s"] for r in results), 2),
        "wall_s": round(time.perf_counter() - began, 1),
        "load_1m": round(os.getloadavg()[0], 2),
        "results": results,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"sf{args.scale:g}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
