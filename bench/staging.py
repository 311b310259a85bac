"""Staging a Parquet dataset into the Ray object store against `pyarrow.parquet.read_table`.

    python -m bench.staging [--rows N]    (the services' env exported; prints JSON lines)

The same Parquet object in the same S3 server is read (a) by `pyarrow.parquet.read_table` in
this process, the reference, and (b) by the platform's staging task, whose table lands in the
Ray object store and is mapped here without a copy. Best of 3 each, after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

import numpy as np
import pyarrow as pa
import ray

from compute.objects import ArrowObjects
from compute.staging import RayDatasetCompute
from rivergen.settings import load_settings


def make_table(rows: int) -> pa.Table:
    rng = np.random.default_rng(7)
    words = np.array([f"customer-{i:05d}" for i in range(5000)])
    return pa.table(
        {
            "id": np.arange(rows, dtype=np.int64),
            "amount": rng.normal(100, 25, rows),
            "quantity": rng.integers(1, 50, rows, dtype=np.int32),
            "discount": rng.random(rows),
            "customer": words[rng.integers(0, len(words), rows)],
            "region": pa.array(rng.integers(0, 12, rows)).cast(pa.string()),
            "score": rng.standard_exponential(rows),
            "flag": rng.random(rows) > 0.5,
        }
    )


def best_of(runs: int, call: object) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=3_000_000)
    args = parser.parse_args()
    settings = load_settings()
    objects = ArrowObjects.from_settings(settings)
    table = make_table(args.rows)
    key = f"bench/staging/{uuid.uuid4()}.parquet"
    size = objects.write_parquet(key, table)
    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False)
    try:
        compute = RayDatasetCompute(settings)
        assert ray.get(compute.load(key)).equals(objects.read_parquet(key))  # warm-up + check
        reference = best_of(3, lambda: objects.read_parquet(key))
        staged = best_of(3, lambda: ray.get(compute.load(key)))
    finally:
        ray.shutdown()
        objects.delete(key)
    print(
        json.dumps(
            {
                "rows": args.rows,
                "columns": table.num_columns,
                "parquet_mb": size / 1e6,
                "arrow_mb": table.nbytes / 1e6,
                "read_table_s": reference,
                "staged_s": staged,
            }
        )
    )


if __name__ == "__main__":
    main()
