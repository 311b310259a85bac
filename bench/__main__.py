"""Run every benchmark and write bench/RESULTS.md.

    scripts/bench            (starts the backing services, then runs `python -m bench`)

Each figure is a ratio against a reference measured in the same run on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.load import LoadResult

HERE = Path(__file__).resolve().parent


def measure(module: str, *args: str) -> LoadResult:
    out = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return LoadResult.model_validate(json.loads(out.stdout.strip().splitlines()[-1]))


def gateway_section(duration: int, endpoint: str, title: str, what: str) -> list[str]:
    common = ["--endpoint", endpoint, "--connections", "16", "--duration", str(duration)]
    reference = measure("bench.gateway", "uvicorn", *common)
    serve_ha = measure("bench.gateway", "serve-haproxy", *common)
    serve_default = measure("bench.gateway", "serve-default", *common)
    one_conn = ["--endpoint", endpoint, "--connections", "1", "--duration",
                str(max(3, duration // 2))]  # fmt: skip
    reference_1 = measure("bench.gateway", "uvicorn", *one_conn)
    serve_ha_1 = measure("bench.gateway", "serve-haproxy", *one_conn)
    rows = [
        f"## Gateway {title}: Ray Serve against bare uvicorn",
        "",
        f"The same FastAPI app (`rivergen.api.create_app`), {what}; one replica / one uvicorn "
        "worker, `wrk -t2` on loopback, after a 2 s warm-up; request rate limit off.",
        "",
        "| run | connections | req/s | p50 ms | p99 ms | errors | req/s vs uvicorn |",
        "|---|---|---|---|---|---|---|",
    ]
    for result, ref in (
        (reference, reference), (serve_ha, reference), (serve_default, reference),
        (reference_1, reference_1), (serve_ha_1, reference_1),
    ):  # fmt: skip
        rows.append(
            f"| {result.label} | {result.connections} | {result.requests_per_s:,.0f} | "
            f"{result.p50_ms:.2f} | {result.p99_ms:.2f} | {result.errors} | "
            f"{result.requests_per_s / ref.requests_per_s:.2f} |"
        )
    return rows


def staging_section() -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.staging"], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"bench.staging failed:\n{out.stdout}\n{out.stderr}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return [
        "## Data Staging: a Parquet dataset into the Ray object store",
        "",
        f"{r['rows']:,} rows x {r['columns']} columns ({r['parquet_mb']:.0f} MB Parquet, "
        f"{r['arrow_mb']:.0f} MB as Arrow) in the S3 server. Reference: "
        "`pyarrow.parquet.read_table` of the object in the driver. Staged: the platform's "
        "staging task reads it and its table lands in the Ray object store, mapped by the "
        "driver without a copy (`ray.get`). Best of 3.",
        "",
        "| run | seconds | MB/s (Arrow) | speed vs read_table |",
        "|---|---|---|---|",
        f"| `pyarrow.parquet.read_table` | {r['read_table_s']:.3f} | "
        f"{r['arrow_mb'] / r['read_table_s']:,.0f} | 1.00 |",
        f"| staged into the object store | {r['staged_s']:.3f} | "
        f"{r['arrow_mb'] / r['staged_s']:,.0f} | {r['read_table_s'] / r['staged_s']:.2f} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="Seconds per load run.")
    args = parser.parse_args()
    lines = [
        "# Benchmark results",
        "",
        f"Written by `scripts/bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}.",
        "",
        *gateway_section(args.duration, "healthz", "`GET /healthz`", "no I/O"),
        "",
        *gateway_section(
            args.duration,
            "me",
            "authenticated `GET /api/v1/me`",
            "JWT check, session read in Redis App, queries through PgBouncer",
        ),
        "",
        *staging_section(),
        "",
    ]
    (HERE / "RESULTS.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
