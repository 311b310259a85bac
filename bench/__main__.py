"""Run every benchmark and write bench/RESULTS.md.

    scripts/bench            (starts the backing services, then runs `python -m bench`)

Each figure is a ratio against a reference measured in the same run on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import LoadResult
from bench.upload import UploadResult

HERE = Path(__file__).resolve().parent


def run_json(module: str, *args: str) -> Any:
    """Run ``python -m module args`` in its own process (its own Ray, its own event loop);
    the JSON of its last output line."""
    out = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(module: str, *args: str) -> LoadResult:
    return LoadResult.model_validate(run_json(module, *args))


def gateway_section(duration: int, endpoint: str, title: str, what: str) -> list[str]:
    common = ["--endpoint", endpoint, "--connections", "16", "--duration", str(duration)]
    reference = measure("bench.gateway", "uvicorn", *common)
    serve_ha = measure("bench.gateway", "serve-haproxy", *common)
    serve_default = measure("bench.gateway", "serve-default", *common)
    one_conn = [
        "--endpoint",
        endpoint,
        "--connections",
        "1",
        "--duration",
        str(max(3, duration // 2)),
    ]
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
        (reference, reference),
        (serve_ha, reference),
        (serve_default, reference),
        (reference_1, reference_1),
        (serve_ha_1, reference_1),
    ):
        rows.append(
            f"| {result.label} | {result.connections} | {result.requests_per_s:,.0f} | "
            f"{result.p50_ms:.2f} | {result.p99_ms:.2f} | {result.errors} | "
            f"{result.requests_per_s / ref.requests_per_s:.2f} |"
        )
    return rows


STAGING_TITLE = "## Data Staging: a Parquet dataset into the Ray object store"


def staging_section() -> list[str]:
    r = run_json("bench.staging")
    return [
        STAGING_TITLE,
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


def upload_section(runs: int) -> list[str]:
    result = UploadResult.model_validate(run_json("bench.upload", "--runs", str(runs)))
    mib = 1024 * 1024
    with_hash = result.platform_s + result.client_sha256_s
    return [
        f"{UPLOAD_TITLE}: direct upload against boto3 `upload_file`",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. "
        f"One {result.size_bytes / mib:.0f} MiB file of seeded random bytes to the S3 server of "
        f"`scripts/services`, median of {result.runs} alternating runs. The platform: start, "
        f"{result.part_size // mib} MiB parts PUT {result.parallel} at once with httpx to the "
        "presigned part URLs, complete (the platform checks the assembled object's ETag against "
        "its parts' ETags and reads the object back for its size and SHA-256: the S3 server of "
        "the tests checks no checksum itself), under one uvicorn worker. boto3: `upload_file` "
        "with its default "
        "TransferConfig (8 MiB parts, 10 threads), no verification.",
        "",
        "| run | seconds | MB/s | vs boto3 |",
        "|---|---|---|---|",
        f"| boto3 `upload_file` | {result.boto3_s:.2f} | {result.boto3_mb_s:.0f} | 1.00 |",
        f"| platform direct upload | {result.platform_s:.2f} | {result.platform_mb_s:.0f} | "
        f"{result.boto3_s / result.platform_s:.2f} |",
        f"| platform, with the client's SHA-256 of the file | {with_hash:.2f} | "
        f"{result.size_bytes / mib / with_hash:.0f} | {result.boto3_s / with_hash:.2f} |",
        "",
        f"Where the platform's time goes (medians): start {result.start_s:.2f} s, part PUTs "
        f"{result.puts_s:.2f} s, complete {result.complete_s:.2f} s. The complete holds the S3 "
        "server's own CompleteMultipartUpload, which boto3 pays too, and the platform's read-back "
        "of the whole object (a GET, SHA-256 hashed in a thread as it streams), which boto3 "
        "does not do.",
    ]


UPLOAD_TITLE = "## Upload of ~200 MB"
SPARSE_TITLE = "## Sparse Native: kernels through the kernel API against one SciPy process"


def sparse_section() -> list[str]:
    r = run_json("bench.sparse")
    rows = [
        SPARSE_TITLE,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs "
        f"(load average {os.getloadavg()[0]:.1f} at the end: the machine is shared). Memory "
        f"bandwidth: `np.copyto` of 512 MB runs at {r['bandwidth_gb_s']:.1f} GB/s.",
        "",
        "SpMV `A @ x`, 10 nonzeros per row at random columns: the blocks are cut (and, as tasks, "
        "put) once, only the products are timed (median; as tasks each includes putting `x` and "
        "gathering `y`). Time ratio against SciPy's single-threaded `csr @ x` in this process "
        "(below 1 is faster). The default plan is the one `RowBlocks.put` chooses "
        "(`compute.sparse.blocks.choose_plan`): on this one-node cluster, in process, a thread "
        "per block.",
        "",
        "| nnz | runs | SciPy ms | tasks, 1 block ms (ratio) | tasks, 2 blocks ms (ratio) | "
        "default plan ms (plan, blocks, ratio) |",
        "|---|---|---|---|---|---|",
    ]
    for s in r["spmv"]:
        base = s["scipy_s"]
        rows.append(
            f"| {s['nnz']:.0e} | {s['runs']} | {base * 1e3:.2f} | "
            f"{s['one_block_s'] * 1e3:.2f} ({s['one_block_s'] / base:.2f}) | "
            f"{s['two_blocks_s'] * 1e3:.2f} ({s['two_blocks_s'] / base:.2f}) | "
            f"{s['default_s'] * 1e3:.2f} ({s['default_plan']}, {s['default_blocks']}, "
            f"{s['default_s'] / base:.2f}) |"
        )
    syn, wiki, arrow, svd = (
        r["pagerank"]["synthetic"],
        r["pagerank"]["wiki_vote"],
        r["arrow"],
        r["svd"],
    )
    rows += [
        "",
        "PageRank (NetworkX's semantics), end to end from the graph's CSR (the platform's run "
        "includes cutting the transposed blocks), median of 3 (wiki-vote: 5), default plan:",
        "",
        "| graph | nodes | edges | tol | iterations | reference | reference s | platform s | "
        "time ratio |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| synthetic (skewed in-degrees) | {syn['nodes']:,} | {syn['edges']:,} | {syn['tol']:g} | "
        f"{syn['iterations']} | SciPy power iteration | {syn['scipy_s']:.3f} | "
        f"{syn['ray_s']:.3f} ({syn['plan']}, {syn['blocks']} blocks) | "
        f"{syn['ray_s'] / syn['scipy_s']:.2f} |",
        f"| SNAP wiki-vote | {wiki['nodes']:,} | {wiki['edges']:,} | 1e-06 | {wiki['iterations']} "
        f"| SciPy power iteration | {wiki['scipy_s']:.4f} | {wiki['ray_s']:.4f} | "
        f"{wiki['ray_s'] / wiki['scipy_s']:.1f} |",
        f"| SNAP wiki-vote | {wiki['nodes']:,} | {wiki['edges']:,} | 1e-06 | {wiki['iterations']} "
        f"| `networkx.pagerank` | {wiki['networkx_s']:.4f} | {wiki['ray_s']:.4f} | "
        f"{wiki['ray_s'] / wiki['networkx_s']:.2f} |",
        "",
        f"Truncated SVD, k={svd['k']}, of a {svd['rows']:,}-square matrix with {svd['nnz']:.0e} "
        f"nonzeros (columns of decaying weight) in {svd['blocks']} blocks ({svd['plan']}), one "
        f"run each: {svd['ray_s']:.2f} s ({svd['products']} rounds of "
        f"products) against {svd['svds_s']:.2f} s for SciPy `svds` (time ratio "
        f"{svd['ray_s'] / svd['svds_s']:.2f}); singular values agree to "
        f"{svd['max_rel_diff']:.1e} relative.",
        "",
        f"Arrow `list<int32>`/`list<float64>` columns ({arrow['nnz']:.0e} nonzeros, "
        f"{arrow['mb']:.0f} MB of buffers) to CSR without a copy: {arrow['to_csr_s'] * 1e3:.3f} "
        f"ms, against {arrow['np_copy_s'] * 1e3:.1f} ms for one `np.copy` of the same buffers "
        f"({arrow['mb'] / 1e3 / arrow['np_copy_s']:.1f} GB/s). The conversion's time is its "
        "checks, reading the buffers once (every index within the columns, the two columns' "
        "rows of equal length); it writes nothing.",
    ]
    return rows


GLM_TITLE = "## Sparse logistic regression: `fit_glm` against scikit-learn"


def glm_section(runs: int) -> list[str]:
    r = run_json("bench.glm", "--runs", str(runs))
    gap = (r["ours_objective"] - r["sklearn_objective"]) / abs(r["sklearn_objective"])
    return [
        GLM_TITLE,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Logistic regression, L2, C = {r['C']}, "
        f"on a seeded CSR matrix of {r['rows']:,} x {r['cols']:,} with {r['nnz']:,} nonzeros; "
        f"both minimize the same objective with L-BFGS-B to tol {r['tol']:g}. Reference: "
        "`LogisticRegression(solver='lbfgs')` in this process. The platform: `fit_glm`, the "
        f"loss and gradient over {r['blocks']} row blocks on its chosen plan ({r['plan']}; cut "
        "inside the timed call), Ray started and its workers warm, "
        f"`num_cpus=2`. Median of {r['runs']} alternating runs.",
        "",
        "| run | seconds | iterations | objective | time vs scikit-learn |",
        "|---|---|---|---|---|",
        f"| scikit-learn `lbfgs` | {r['sklearn_s']:.2f} | {r['sklearn_iterations']} | "
        f"{r['sklearn_objective']:.6f} | 1.00 |",
        f"| platform `fit_glm` | {r['ours_s']:.2f} | {r['ours_iterations']} | "
        f"{r['ours_objective']:.6f} | {r['ours_s'] / r['sklearn_s']:.2f} |",
        "",
        f"Objective difference (platform - scikit-learn) / scikit-learn: {gap:.1e}. "
        f"1-minute load average at the end: {r['load_average']:.1f} on {os.cpu_count()} CPUs "
        "(the machine is shared).",
    ]


NOTIFICATIONS_TITLE = "## Notifications end to end: Kafka, bridge, Socket.io, clients"


def notifications_section() -> list[str]:
    r = run_json("bench.notifications")
    return [
        NOTIFICATIONS_TITLE,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Events published to Kafka, the "
        "notification bridge (one process, per poll of up to 500 events: keep them in Postgres "
        "through PgBouncer in one statement, emit each run of up to 100 for the room as one "
        "`notifications` message through the write-only Redis emitter, mark the run emitted, "
        "commit the offsets; while events keep coming it gathers them for 20 ms between polls), "
        "the Socket.io "
        f"cluster on Ray Serve ({r['replicas']} replicas, HAProxy ingress, Redis adapter), and "
        f"{r['clients']} WebSocket clients connected with a user's token, joined by the server "
        "to the workspace's room (one process; clients per replica: "
        f"{', '.join(str(n) for n in r['clients_per_replica'])}). Latency: from the event's "
        "`occurred_at` to a client's receipt. Reference: `redis-benchmark` PUBLISH (50 "
        "connections) on the Redis Socket server.",
        "",
        "| run | events/s | deliveries/s | p50 ms | p99 ms |",
        "|---|---|---|---|---|",
        f"| burst of {r['burst_events']:,} events | {r['events_per_s']:,.0f} | "
        f"{r['deliveries_per_s']:,.0f} | {r['burst_p50_ms']:,.0f} | {r['burst_p99_ms']:,.0f} |",
        f"| paced, {r['paced_events']} events at {r['paced_rate']:.0f}/s | {r['paced_rate']:.0f} "
        f"| {r['paced_rate'] * r['clients']:,.0f} | {r['paced_p50_ms']:.1f} | "
        f"{r['paced_p99_ms']:.1f} |",
        f"| `redis-benchmark` PUBLISH | {r['redis_publish_per_s']:,.0f} | | | |",
        "",
        f"In the burst each client got {r['burst_messages_per_client']:.0f} messages for "
        f"{r['burst_events']:,} events. The burst's latency is its queue (every event is "
        "published at once); the paced run shows the path's own latency (the 20 ms of "
        "gathering included). All processes, the 100 clients' one included, share the "
        "machine's 2 CPUs.",
    ]


PROMPTS_TITLE = "## Prompts: the built-in provider against the engine alone"


def prompts_section(rounds: int) -> list[str]:
    r = run_json("bench.prompts", "--rounds", str(rounds))
    return [
        PROMPTS_TITLE,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. The {r['questions']} questions of "
        "the corpus (`tests/unit/test_nl_corpus.py`) over the shop sample (400 customers, 56 "
        f"products, 3,000 orders), {r['answered']} of them answered, asked {r['rounds']} "
        "times after a warm-up round in one process. Full path: `translate` (the built-in "
        "provider), `compile_sql` (sqlglot, checks against the catalog) and `run_compiled` "
        "(Arrow). Reference: the same compiled queries run directly on the engine "
        "(`run_compiled`). 1-minute load average at the end: "
        f"{r['load_average']:.1f} on {os.cpu_count()} CPUs.",
        "",
        "| run | prompts/s | p50 ms | p99 ms | time vs engine (p50) |",
        "|---|---|---|---|---|",
        f"| engine alone (`run_compiled`) | {r['engine_per_s']:,.0f} | {r['engine_p50_ms']:.2f} "
        f"| {r['engine_p99_ms']:.2f} | 1.00 |",
        f"| translate + compile + run | {r['prompts_per_s']:,.0f} | {r['p50_ms']:.2f} | "
        f"{r['p99_ms']:.2f} | {r['p50_ms'] / r['engine_p50_ms']:.1f} |",
    ]


NL_EVAL_TITLE = "## Prompts on questions it was not written for: the natural-language evaluation"


def _nl_rate(r: dict[str, Any]) -> str:
    n = r["questions"]
    return " | ".join(
        f"{r[k]} ({100 * r[k] / n:.0f}%)" if n else "0"
        for k in ("exact", "not_understood", "wrong")
    )


def nl_eval_section() -> list[str]:
    r = run_json("bench.nl_eval")
    sets = r["datasets"]
    rows = [
        NL_EVAL_TITLE,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {r['seconds']:.0f} s (load "
        f"{r['load_average']:.1f} on {os.cpu_count()} CPUs; p50 {r['ask_p50_ms']:.1f} ms a "
        f"question). {r['questions']} questions (`bench/nl_eval/*.yaml`) over three public "
        "datasets that the grammar was not written for, each shipped inside a package: Northwind "
        f"({sets['northwind']['questions']} questions, 8 tables as the demo imports them), the "
        f"Palmer penguins (`palmerpenguins`, {sets['penguins']['questions']}: `penguins` and "
        f"`penguins-raw`) and four `vega_datasets` tables ({sets['vega']['questions']}: "
        "`seattle-weather`, `cars`, `stocks`, `airports`). The questions were written from each "
        "dataset's documentation and columns before the provider was run, each with its "
        "expected answer as SQL written by hand. Each dataset is read by the platform's parser "
        "and its catalog carries the value hints the platform takes from a profile and the "
        "automatic first draft of the semantic layer (`rivergen.semantic.draft`: names, "
        "synonyms, roles, measures such as revenue, relationships; nothing confirmed by a "
        "person). `exact`: "
        "the provider's SQL, run on the engine, gives the expected rows (columns matched by "
        "values, extra columns ignored, numbers within 1e-6; `bench/nl_eval/compare.py`); "
        "`wrong`: any other answer presented as one. `python -m bench.nl_eval` reruns it.",
        "",
        "| dataset | questions | exact | not understood | wrong |",
        "|---|---|---|---|---|",
        *(f"| {name} | {d['questions']} | {_nl_rate(d)} |" for name, d in sets.items()),
        f"| overall | {r['questions']} | {_nl_rate(r)} |",
        "",
        "By kind of question (a question may be of several kinds):",
        "",
        "| kind | questions | exact | not understood | wrong |",
        "|---|---|---|---|---|",
        *(f"| {kind} | {k['questions']} | {_nl_rate(k)} |" for kind, k in r["kinds"].items()),
        "",
        "Why questions were not understood (the provider's message, its particulars left out):",
        "",
        "| questions | reason |",
        "|---|---|",
        *(f"| {n} | {text} |" for text, n in r["not_understood_reasons"][:10]),
        "",
        "The words it did not read: "
        + ", ".join(f"{n} {kind}" for kind, n in r["not_understood_word_kinds"].items())
        + "; most often "
        + ", ".join(f"`{w}` ({n})" for w, n in r["not_understood_words"][:20])
        + ".",
        "",
        "Wrong answers:" if r["wrong_answers"] else "Wrong answers: none.",
        "",
        *(
            f"- {w['id']} {w['question']!r}: `{w['sql']}`"
            if w["sql"]
            else f"- {w['id']} {w['question']!r}: {w['detail']}"
            for w in r["wrong_answers"]
        ),
        "",
        *nl_curated_rows(),
    ]
    return rows


def nl_curated_rows() -> list[str]:
    """The same questions once a person has added what the draft lacks (`--curated`), apart
    from the headline (the automatic draft alone)."""
    r = run_json("bench.nl_eval", "--curated")
    return [
        "After a person adds what the layer lacks (not the figure above): the same questions "
        "with, over the draft, a short hand-written addition per dataset "
        "(`bench/nl_eval/<dataset>.curated.yaml`: synonyms such as `model year`, `fuel "
        "economy`, `nests`, `contact person`, `freight charge`; "
        "`python -m bench.nl_eval --curated`).",
        "",
        "| dataset | questions | exact | not understood | wrong |",
        "|---|---|---|---|---|",
        *(f"| {name} | {d['questions']} | {_nl_rate(d)} |" for name, d in r["datasets"].items()),
        f"| overall | {r['questions']} | {_nl_rate(r)} |",
    ]


ML_TITLE = "## Model Studio: training against scikit-learn, predict through the gateway"


def ml_section(requests: int) -> list[str]:
    r = run_json("bench.ml", "--requests", str(requests))
    sk = r["sklearn"]
    return [
        ML_TITLE,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; 1-minute load average at the end: "
        f"{r['load_average']:.1f} on {os.cpu_count()} CPUs (the machine is shared: latencies "
        "vary from run to run).",
        "",
        f"scikit-learn's breast-cancer data ({r['rows']} rows, {r['features']} features) uploaded "
        "as a CSV dataset and trained through `POST /api/v1/models`: the champion (L2, C=1) and "
        "the default L1 challenger as one `train` job (GLMs on their chosen plan, 2 CPUs), timed "
        "from the request to the job's success. Reference: `StandardScaler` + "
        "`LogisticRegression(C=1)` (L2 `lbfgs`, L1 `saga`) in one process on the same split; "
        f"AUCs on the same {r['held_out']} held-out rows.",
        "",
        "| | seconds | ROC AUC L2 | ROC AUC L1 |",
        "|---|---|---|---|",
        f"| platform (request to success; job {r['job_compute_seconds']:.2f} s) | "
        f"{r['train_seconds']:.2f} | {r['auc_l2']:.4f} | {r['auc_l1']:.4f} |",
        f"| scikit-learn (both fits) | {sk['seconds']:.2f} | {sk['auc_l2']:.4f} | "
        f"{sk['auc_l1']:.4f} |",
        "",
        f"`predict` of one row, {r['requests']} sequential requests after a warm-up: the gateway "
        "app (`create_app`) under uvicorn in the benchmark's own process (not Serve), over "
        "loopback HTTP; reference: the same loaded artifact scoring the same row in-process "
        "(no HTTP, authorization, database or policy lookup).",
        "",
        "| path | p50 ms | p99 ms |",
        "|---|---|---|",
        f"| `POST /api/v1/models/{{id}}/predict` | {r['gateway_p50_ms']:.2f} | "
        f"{r['gateway_p99_ms']:.2f} |",
        f"| `LoadedModel.predict` in-process | {r['bare_p50_ms']:.2f} | {r['bare_p99_ms']:.2f} |",
    ]


TPCH_TITLE = "## TPC-H: the 22 queries as `query` jobs against DuckDB alone"


TPCH_CLUSTER_TITLE = (
    "## TPC-H on the distributed engine: Daft on three Ray nodes against the single-node engine"
)


def tpch_cluster_section(scale: float) -> list[str]:
    return tpch_cluster_rows(run_json("bench.tpch_cluster", "--scale", f"{scale:g}"))


def tpch_cluster_rows(r: dict[str, Any]) -> list[str]:
    """The section from one run's JSON (`bench/.work/tpch_cluster/sf<scale>.json`)."""
    at = datetime.fromisoformat(r["at"])
    rows = [
        f"| {q['query']} | {q['rows']:,} | {q['engine']} | "
        f"{q['distributed_s'] if q['distributed_s'] is not None else '-'} | "
        f"{q['single_node_s']:.3f} | {'equal' if q['equal'] else 'different'} |"
        for q in r["results"]
    ]
    fallbacks = [f"{q['query']} ({q['refused']})" for q in r["results"] if q["refused"]]
    return [
        TPCH_CLUSTER_TITLE,
        "",
        f"Measured {at:%Y-%m-%d %H:%M} UTC with `python -m bench.tpch_cluster --scale "
        f"{r['scale']:g}` (`tpchgen-cli` Parquet written as dataset objects: "
        f"{r['stored_bytes'] / 1e6:.1f} MB stored in the S3 server); 1-minute load average at "
        f"the end: {r.get('load_1m', 0):.1f} on 2 CPUs. Cluster: {r['nodes']} Ray nodes of one "
        "CPU each on this machine (`ray.cluster_utils.Cluster`), the benchmark their driver. "
        "Distributed: the platform's distributed engine actor (`compute.distributed`): read "
        f"tasks of {r['slice_mb']:g} MB of row groups each, governed per slice, Daft's Ray "
        "runner, the answer written as a result object; the SQL as a query job carries it "
        "(admitted, written for Daft by `compute/daft_sql.py`); a query Daft refuses is "
        "answered by the single-node engine (a job's fallback). Single node: "
        "`compute.engine.query_and_write` (what a node's engine actor runs: DuckDB, the "
        "machine's threads, inputs read from the S3 server, the answer written) in the "
        f"benchmark's process. Median of {r['runs']} run(s) after one warm-up of each engine "
        "on q06. Result: both written answers read back, same columns and rows (in order, or "
        "as sorted rows where the order ties), decimals exactly and floats to 1e-9.",
        "",
        "| query | rows | engine | distributed s | single node s | result |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"**{r['on_daft']} of {r['queries']} ran on Daft, {r['equal']} of {r['queries']} "
        f"equal** to the single-node answers; fell back: {', '.join(fallbacks) or 'none'}. "
        f"Totals: {r['distributed_total_s']:.1f} s distributed, {r['single_node_total_s']:.1f} "
        f"s on one node (the whole run {r['wall_s']:.0f} s). At this size the distributed path "
        "costs seconds of scheduling per query (read tasks, Daft's stages across the raylets "
        "on two shared cores) where DuckDB needs tens of milliseconds: it is for inputs past "
        "one node (`RIVERGEN_ENGINE__DISTRIBUTED_MIN_BYTES`, 2 GiB by default), not for "
        "speed on small ones.",
    ]


def tpch_section(scale: float, runs: int) -> list[str]:
    return tpch_rows(run_json("bench.tpch", "--scale", f"{scale:g}", "--runs", str(runs)))


def tpch_rows(r: dict[str, Any]) -> list[str]:
    """The section from one run's JSON (`bench/.work/tpch/sf<scale>.json` keeps the last)."""
    mb = sum(t["parquet_bytes"] for t in r["tables"].values()) / 1e6
    rows = [
        TPCH_TITLE,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at scale factor {r['scale']:g} "
        f"(`tpchgen-cli` Parquet, {mb:,.0f} MB in 8 files); 1-minute load average at the end: "
        f"{r['load_average']:.1f} on {r['cpus']} CPUs. Each table uploaded through the part "
        "URLs and made a dataset of its name (`POST /datasets`, Parquet). Job: `POST "
        '/api/v1/jobs?wait_s=60` with `{"kind": "query", "params": {"sql": ...}}` (the API '
        "under uvicorn in the benchmark's process, the job on its Ray, 2 CPUs, premium plan, "
        "DuckDB with the reference's threads), timed from the request to its answer, which "
        "comes when the job has ended. Reference: "
        f"DuckDB {r['duckdb']} alone in one process, views over `read_parquet` of the same "
        f"files, each query to an Arrow table. Median of {r['runs']} runs after a warm-up, "
        "alternating per query. Ratio: DuckDB's time over the job's (below 1: the job is "
        "slower). Result: the job's first `GET /jobs/{id}/result` page against DuckDB's rows "
        "(columns, row count, values).",
        "",
        "| query | rows | DuckDB s | job s | ratio | result |",
        "|---|---|---|---|---|---|",
    ]
    queries = r["queries"]
    for q in queries:
        rows.append(
            f"| {q['query']} | {q['rows']:,} | {q['reference_s']:.3f} | {q['job_s']:.3f} | "
            f"{q['ratio']:.3f} | {'equal' if q['equal'] else q['difference']} |"
        )
    rows += [
        "",
        f"Median ratio: **{r['median_ratio']:.3f}** ({sum(q['equal'] for q in queries)} of "
        f"{len(queries)} results equal to DuckDB's).",
        "",
        *tpch_phases(queries),
    ]
    return rows


# A job's phases, in the order they happen (keys of bench.tpch's per-query results/profile).
TPCH_PHASES = [
    ("submit_s", "`POST /jobs` answered (admission, binding, governance, the row)"),
    ("queued_s", "queued until the supervisor claims it"),
    ("to_task_s", "claimed until the query starts in its node's engine actor"),
    ("query_task_s", "the query in the engine (DuckDB scanning the inputs, the result written)"),
    ("record_s", "until the job is recorded succeeded"),
    ("seen_s", "until the waiting request answers"),
]


def tpch_phases(queries: list[dict[str, Any]]) -> list[str]:
    """Where the jobs' time goes: each phase's median over the timed runs (the job's timestamps
    and Ray's timeline of its tasks), and the query task's work replayed in one process."""

    def phase(q: dict[str, Any], key: str) -> float:
        return float(q[key] if key in q else q["profile"].get(key, float("nan")))

    rows = [
        "Where a job's time goes, in ms: medians of the timed runs, from the job's timestamps "
        "and Ray's timeline of its engine call (`submit` ends at `created_at`, `seen` starts "
        "at `finished_at`; the result's column lineage and whether policies govern it are "
        "worked out by the supervisor while the query runs). Replay: the engine's work and the "
        "result's write "
        "once more in the benchmark's process with the job's functions and limits: the query "
        "over its inputs as the task gets them (`query_input`, `execute`: DuckDB scanning the "
        "stored Parquet in the S3 server), the write (`stage_table`); then apart, the inputs' "
        "loaded columns read into memory (`read_dataset`; every column of an input whose pin "
        "lists none, as for `SELECT *` in a subquery) and DuckDB alone over them.",
        "",
        "| query | job | "
        + " | ".join(key.removesuffix("_s") for key, _ in TPCH_PHASES)
        + " | replay: query | write | read inputs (MB) | DuckDB in memory (threads) |",
        "|---|---|" + "---|" * len(TPCH_PHASES) + "---|---|---|---|",
    ]
    for q in queries:
        p = q["profile"]
        rows.append(
            f"| {q['query']} | {q['job_s'] * 1e3:,.0f} | "
            + " | ".join(f"{phase(q, key) * 1e3:,.0f}" for key, _ in TPCH_PHASES)
            + f" | {p['engine_s'] * 1e3:,.0f} | {p['write_s'] * 1e3:,.0f} | "
            f"{p['read_s'] * 1e3:,.0f} ({p['input_mb']:,.0f}) | "
            f"{p['duckdb_s'] * 1e3:,.0f} ({p['threads']}) |"
        )
    medians = {
        key: statistics.median(phase(q, key) for q in queries)
        for key in ["job_s", *(k for k, _ in TPCH_PHASES)]
    }
    replay = {
        key: statistics.median(q["profile"][key] for q in queries)
        for key in ("engine_s", "write_s", "read_s", "duckdb_s")
    }
    rows += [
        "",
        "Medians over the queries: "
        + "; ".join(f"{what} {medians[key] * 1e3:,.0f} ms" for key, what in TPCH_PHASES)
        + f" (of a job's {medians['job_s'] * 1e3:,.0f} ms). Replayed: the query over the "
        f"stored inputs {replay['engine_s'] * 1e3:,.0f} ms, the write "
        f"{replay['write_s'] * 1e3:,.0f} ms; reading the inputs {replay['read_s'] * 1e3:,.0f} "
        f"ms, DuckDB in memory {replay['duckdb_s'] * 1e3:,.0f} ms.",
    ]
    return rows


def replace_section(text: str, title: str, section: list[str]) -> str:
    """``text`` with the section under ``title`` (up to the next `## `) replaced or appended."""
    lines = text.rstrip("\n").split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith(title)), None)
    if start is None:
        return "\n".join([*lines, "", *section, ""])
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), None)
    tail = lines[end:] if end is not None else []
    return "\n".join([*lines[:start], *section, *([""] if tail else []), *tail, ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="Seconds per load run.")
    parser.add_argument("--upload-runs", type=int, default=3, help="Runs of each upload.")
    parser.add_argument(
        "--only",
        choices=[
            "upload",
            "staging",
            "glm",
            "sparse",
            "notifications",
            "prompts",
            "nl_eval",
            "ml",
            "tpch",
            "tpch_cluster",
        ],
        help="Run one benchmark; replace its section only.",
    )
    parser.add_argument("--glm-runs", type=int, default=3, help="Runs of each GLM fit.")
    parser.add_argument(
        "--prompt-rounds", type=int, default=20, help="Rounds of the question corpus."
    )
    parser.add_argument("--ml-requests", type=int, default=500, help="Predict requests timed.")
    parser.add_argument("--tpch-scale", type=float, default=1.0, help="TPC-H scale factor.")
    parser.add_argument("--tpch-runs", type=int, default=3, help="Timed runs of each query.")
    parser.add_argument(
        "--tpch-cluster-scale", type=float, default=0.1, help="TPC-H scale on three nodes."
    )
    args = parser.parse_args()
    if args.only:
        title, section = {
            "upload": (UPLOAD_TITLE, lambda: upload_section(args.upload_runs)),
            "staging": (STAGING_TITLE, staging_section),
            "glm": (GLM_TITLE, lambda: glm_section(args.glm_runs)),
            "sparse": (SPARSE_TITLE, sparse_section),
            "notifications": (NOTIFICATIONS_TITLE, notifications_section),
            "prompts": (PROMPTS_TITLE, lambda: prompts_section(args.prompt_rounds)),
            "nl_eval": (NL_EVAL_TITLE, nl_eval_section),
            "ml": (ML_TITLE, lambda: ml_section(args.ml_requests)),
            "tpch": (TPCH_TITLE, lambda: tpch_section(args.tpch_scale, args.tpch_runs)),
            "tpch_cluster": (
                TPCH_CLUSTER_TITLE,
                lambda: tpch_cluster_section(args.tpch_cluster_scale),
            ),
        }[args.only]
        text = replace_section((HERE / "RESULTS.md").read_text(), title, section())
        (HERE / "RESULTS.md").write_text(text)
        print(text)
        return
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
        *upload_section(args.upload_runs),
        "",
        *glm_section(args.glm_runs),
        "",
        *sparse_section(),
        "",
        *notifications_section(),
        "",
        *prompts_section(args.prompt_rounds),
        "",
        *nl_eval_section(),
        "",
        *ml_section(args.ml_requests),
        "",
        *tpch_section(args.tpch_scale, args.tpch_runs),
        "",
        *tpch_cluster_section(args.tpch_cluster_scale),
        "",
    ]
    (HERE / "RESULTS.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
