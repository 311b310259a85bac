"""Sparse Native kernels as Ray tasks against one SciPy process on this machine.

    python -m bench.sparse [--quick]    (no services needed; prints one JSON line)

- SpMV ``A @ x`` through the kernel API (blocks cut once; only the products are timed, median
  of several) against ``csr @ x`` in this process, for 1e5 .. 3e7 nonzeros (10 per row, random
  columns): as Ray tasks over one block (the overhead of a task) and two blocks (two workers on
  two cores), and the default plan (:func:`compute.sparse.blocks.choose_plan`: on this one-node
  cluster, in process, a thread per block).
- PageRank on a synthetic graph (1e6 nodes, 1e7 edges) against a SciPy power iteration with the
  same formula and tolerance, and on SNAP wiki-vote against NetworkX (and the same SciPy loop).
- Truncated SVD (k=5) against SciPy ``svds`` of the same matrix.
- Arrow ``list`` columns to CSR against one ``np.copy`` of the same buffers.
- The machine's memory bandwidth: ``np.copyto`` of 512 MB.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import ray
import scipy.sparse as sp

from compute.sparse import (
    Graph,
    RowBlocks,
    csr_from_lists,
    graph_from_edges,
    pagerank,
    read_edge_list,
    spmv,
    truncated_svd,
)

SYNTHETIC_TOL = 1e-10  # NetworkX's 1e-6 stops this graph after 3 iterations
WIKI_VOTE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "graphs"


def median_s(runs: int, call: Callable[[], Any]) -> float:
    call()  # warm-up (worker start, caches)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bandwidth_gb_s() -> float:
    source = np.ones(64 * 1024 * 1024)  # 512 MB
    target = np.empty_like(source)
    seconds = median_s(5, lambda: np.copyto(target, source))
    return source.nbytes / seconds / 1e9


def random_csr(nnz: int, per_row: int = 10, seed: int = 1) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    n = nnz // per_row
    indptr = np.arange(0, nnz + 1, per_row, dtype=np.int32)
    indices = rng.integers(0, n, nnz, dtype=np.int32)
    return sp.csr_matrix((rng.random(nnz), indices, indptr), shape=(n, n))


def spmv_rows(sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for nnz in sizes:
        matrix = random_csr(nnz)
        x = np.random.default_rng(2).random(matrix.shape[1])
        runs = max(5, min(50, int(3e7 / nnz)))
        row: dict[str, Any] = {"nnz": nnz, "rows": matrix.shape[0], "runs": runs}
        row["scipy_s"] = median_s(runs, lambda m=matrix, v=x: m @ v)
        options: tuple[tuple[str, dict[str, Any]], ...] = (
            ("one_block", {"cpus": 1, "min_nnz_per_block": nnz + 1, "plan": "tasks"}),
            ("two_blocks", {"cpus": 2, "min_nnz_per_block": 1, "plan": "tasks"}),
            ("default", {}),
        )
        for label, chosen in options:
            blocks = RowBlocks.put(matrix, **chosen)
            row[f"{label}_blocks"] = len(blocks)
            row[f"{label}_plan"] = blocks.plan
            row[f"{label}_s"] = median_s(runs, lambda b=blocks, v=x: spmv(b, v))
            del blocks
        rows.append(row)
        del matrix
    return rows


def scipy_pagerank(graph: Graph, tol: float = 1e-6, max_iter: int = 100) -> tuple[np.ndarray, int]:
    """NetworkX's power iteration in one process (uniform teleport and dangling)."""
    n = graph.n_nodes
    out_weight = np.asarray(graph.matrix.sum(axis=1)).ravel()
    inverse = np.divide(1.0, out_weight, out=np.zeros(n), where=out_weight != 0)
    transposed = graph.matrix.T.tocsr()
    dangling = out_weight == 0
    x = np.full(n, 1.0 / n)
    for iteration in range(1, max_iter + 1):
        new = 0.85 * (transposed @ (x * inverse) + x[dangling].sum() / n) + 0.15 / n
        err = np.abs(new - x).sum()
        x = new
        if err < n * tol:
            return x, iteration
    return x, max_iter


def synthetic_graph(nodes: int, edges: int, seed: int = 5) -> Graph:
    rng = np.random.default_rng(seed)
    src = rng.integers(0, nodes, edges)
    dst = (rng.pareto(1.2, edges) * nodes / 50).astype(np.int64) % nodes  # skewed in-degrees
    return graph_from_edges(pa.table({"src": src, "dst": dst}), weight=None)


def pagerank_rows(nodes: int, edges: int) -> dict[str, Any]:
    import networkx as nx

    out: dict[str, Any] = {}
    graph = synthetic_graph(nodes, edges)
    reference, iterations = scipy_pagerank(graph, tol=SYNTHETIC_TOL)
    ours = pagerank(graph, tol=SYNTHETIC_TOL)
    assert ours.iterations == iterations and np.abs(ours.scores - reference).max() < 1e-12
    out["synthetic"] = {
        "nodes": graph.n_nodes,
        "edges": int(graph.matrix.nnz),
        "tol": SYNTHETIC_TOL,
        "iterations": iterations,
        "blocks": ours.blocks,
        "plan": ours.plan,
        "scipy_s": median_s(3, lambda: scipy_pagerank(graph, tol=SYNTHETIC_TOL)),
        "ray_s": median_s(3, lambda: pagerank(graph, tol=SYNTHETIC_TOL)),
    }
    edges_table = read_edge_list(WIKI_VOTE / "wiki-vote.txt")
    wiki = graph_from_edges(edges_table, weight=None)
    digraph = nx.DiGraph()
    digraph.add_edges_from(
        zip(
            edges_table.column("src").to_pylist(),
            edges_table.column("dst").to_pylist(),
            strict=True,
        )
    )
    out["wiki_vote"] = {
        "nodes": wiki.n_nodes,
        "edges": int(wiki.matrix.nnz),
        "iterations": pagerank(wiki).iterations,
        "networkx_s": median_s(5, lambda: nx.pagerank(digraph)),
        "scipy_s": median_s(5, lambda: scipy_pagerank(wiki)),
        "ray_s": median_s(5, lambda: pagerank(wiki)),
    }
    return out


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = call()
    return value, time.perf_counter() - start


def svd_row(nnz: int, k: int = 5) -> dict[str, Any]:
    """One timed run each (ARPACK runs take seconds), after a warm-up of the tasks."""
    from scipy.sparse.linalg import svds

    matrix = random_csr(nnz, seed=9)
    # columns of decaying weight: a spread spectrum, as real data has, so ARPACK converges
    matrix.data *= (np.arange(matrix.shape[1]) + 1.0)[matrix.indices] ** -0.5
    blocks = RowBlocks.put(matrix)
    spmv(blocks, np.ones(matrix.shape[1]))
    ours, ray_s = timed(lambda: truncated_svd(blocks, k))
    reference, svds_s = timed(lambda: svds(matrix, k=k, return_singular_vectors=False))
    reference = np.sort(reference)[::-1]
    return {
        "nnz": nnz,
        "rows": matrix.shape[0],
        "k": k,
        "blocks": len(blocks),
        "plan": blocks.plan,
        "products": ours.products,
        "max_rel_diff": float(np.max(np.abs(ours.s - reference) / reference)),
        "svds_s": svds_s,
        "ray_s": ray_s,
    }


def arrow_row(nnz: int) -> dict[str, Any]:
    matrix = random_csr(nnz)
    offsets = pa.array(matrix.indptr)
    table = pa.table(
        {
            "indices": pa.ListArray.from_arrays(offsets, pa.array(matrix.indices)),
            "values": pa.ListArray.from_arrays(offsets, pa.array(matrix.data)),
        }
    )
    buffers = [
        table.column("indices").chunk(0).offsets.to_numpy(),
        table.column("indices").chunk(0).values.to_numpy(),
        table.column("values").chunk(0).values.to_numpy(),
    ]
    n_cols = matrix.shape[1]
    return {
        "nnz": nnz,
        "mb": sum(b.nbytes for b in buffers) / 1e6,
        "to_csr_s": median_s(5, lambda: csr_from_lists(table, n_cols=n_cols, allow_copy=False)),
        "np_copy_s": median_s(5, lambda: [np.copy(b) for b in buffers]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Small sizes only (a smoke run).")
    args = parser.parse_args()
    sizes = [100_000, 1_000_000] if args.quick else [100_000, 1_000_000, 10_000_000, 30_000_000]
    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False)
    try:
        result = {
            "bandwidth_gb_s": bandwidth_gb_s(),
            "spmv": spmv_rows(sizes),
            "pagerank": pagerank_rows(
                *((100_000, 1_000_000) if args.quick else (1_000_000, 10_000_000))
            ),
            "svd": svd_row(1_000_000 if args.quick else 8_000_000),
            "arrow": arrow_row(1_000_000 if args.quick else 10_000_000),
        }
    finally:
        ray.shutdown()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
