"""Sparse Native kernels as Ray tasks agree with one SciPy / NetworkX process on the same input.

Matrices are cut into several small blocks on the tasks plan (a low ``min_nnz_per_block``, more
``cpus`` than Ray has) so every product really is spread over tasks, including blocks of empty
rows and matrices with empty columns; the plan chosen on this one-node cluster (in process)
answers the same.
"""

from __future__ import annotations

from collections.abc import Iterator

import networkx as nx
import numpy as np
import pyarrow as pa
import pytest
import ray
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse.linalg import svds

from compute.sparse import (
    Cancelled,
    RowBlocks,
    graph_from_edges,
    pagerank,
    read_edge_list,
    spgemm,
    spmm,
    spmv,
    truncated_svd,
)
from rivergen.errors import ValidationFailed
from tests.conftest import SHARED_DATA

RTOL = 1e-10


@pytest.fixture(scope="module", autouse=True)
def ray_local() -> Iterator[None]:
    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


def random_csr(rng: np.random.Generator, rows: int, cols: int, density: float) -> sp.csr_matrix:
    matrix = sp.random(rows, cols, density=density, format="csr", random_state=rng)
    # runs of empty rows (a whole block may be empty) and an empty first column
    keep_rows = np.where(np.arange(rows) % 5 < 2, 0.0, 1.0) if rows > 4 else np.ones(rows)
    keep_cols = np.where(np.arange(cols) == 0, 0.0, 1.0) if cols > 1 else np.ones(cols)
    matrix = sp.csr_matrix(matrix.multiply(np.outer(keep_rows, keep_cols)))
    matrix.eliminate_zeros()
    return matrix


def close(actual: np.ndarray, expected: np.ndarray) -> None:
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * scale)


shapes = st.tuples(st.integers(1, 120), st.integers(1, 90), st.floats(0.0, 0.3), st.integers())


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=shapes)
def test_products_agree_with_scipy(shape: tuple[int, int, float, int]) -> None:
    rows, cols, density, seed = shape
    rng = np.random.default_rng(abs(seed))
    matrix = random_csr(rng, rows, cols, density)
    blocks = RowBlocks.put(matrix, cpus=5, min_nnz_per_block=max(1, matrix.nnz // 5), plan="tasks")
    x, y = rng.standard_normal(cols), rng.standard_normal(rows)
    close(spmv(blocks, x), matrix @ x)
    close(spmv(blocks, y, transpose=True), matrix.T @ y)
    dense = rng.standard_normal((cols, 3))
    close(spmm(blocks, dense), matrix @ dense)
    other = sp.random(cols, 7, density=0.3, format="csr", random_state=rng)
    product = spgemm(blocks, other)
    assert isinstance(product, sp.csr_matrix)
    assert product.shape == (rows, 7)
    close(product.toarray(), (matrix @ other).toarray())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.integers(8, 80), cols=st.integers(8, 80), seed=st.integers(0, 2**31))
def test_truncated_svd_agrees_with_svds(rows: int, cols: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    matrix = random_csr(rng, rows, cols, 0.2)
    k = min(3, min(rows, cols) - 1)
    blocks = RowBlocks.put(matrix, cpus=4, min_nnz_per_block=max(1, matrix.nnz // 4), plan="tasks")
    result = truncated_svd(blocks, k)
    expected = np.sort(svds(matrix, k=k, return_singular_vectors=False, rng=seed))[::-1]
    # relative to the largest: a rank-deficient matrix may have zeros among its top k
    np.testing.assert_allclose(result.s, expected, rtol=RTOL, atol=RTOL * expected[0])
    assert np.all(np.diff(result.s) <= 0)
    # the triplets are singular triplets of the matrix: A v = s u
    for i in np.flatnonzero(result.s > 1e-8 * result.s[0]):
        close(matrix @ result.vt[i], result.s[i] * result.u[:, i])


def test_truncated_svd_of_a_wide_matrix_and_its_bad_rank() -> None:
    rng = np.random.default_rng(7)
    matrix = random_csr(rng, 40, 300, 0.1)
    blocks = RowBlocks.put(matrix, cpus=4, min_nnz_per_block=200, plan="tasks")
    result = truncated_svd(blocks, 6)
    expected = np.sort(svds(matrix, k=6, return_singular_vectors=False))[::-1]
    np.testing.assert_allclose(result.s, expected, rtol=RTOL)
    close(np.abs(result.u.T @ result.u), np.eye(6))
    with pytest.raises(ValidationFailed) as refused:
        truncated_svd(blocks, 40)
    assert refused.value.error_code == "svd_rank"


def nx_graph(edges: pa.Table) -> nx.DiGraph:
    graph = nx.DiGraph()
    rows = zip(*(edges.column(c).to_pylist() for c in edges.column_names), strict=True)
    if "weight" in edges.column_names:
        graph.add_weighted_edges_from(rows)
    else:
        graph.add_edges_from(rows)
    return graph


def assert_like_networkx(result: dict[int, float], expected: dict[int, float]) -> None:
    assert result.keys() == expected.keys()
    assert max(abs(result[node] - expected[node]) for node in expected) < 1e-8


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edges=st.lists(
        st.tuples(st.integers(0, 25), st.integers(0, 25), st.floats(0.1, 10.0)),
        min_size=1,
        max_size=80,
        unique_by=lambda e: (e[0], e[1]),
    ),
    personalize=st.booleans(),
    dangling_to_first=st.booleans(),
)
def test_pagerank_agrees_with_networkx(
    edges: list[tuple[int, int, float]], personalize: bool, dangling_to_first: bool
) -> None:
    src, dst, weight = (list(column) for column in zip(*edges, strict=True))
    table = pa.table({"src": src, "dst": dst, "weight": weight})
    graph = nx_graph(table)
    nodes = sorted(graph.nodes)
    personalization = {n: float(i % 3) for i, n in enumerate(nodes)} if personalize else None
    if personalization is not None and not sum(personalization.values()):
        personalization = None
    dangling = {nodes[0]: 1.0} if dangling_to_first else None
    options = {"personalization": personalization, "dangling": dangling, "tol": 1e-12}
    expected = nx.pagerank(graph, max_iter=1000, **options)
    result = pagerank(table, max_iter=1000, min_nnz_per_block=10, plan="tasks", **options)
    assert result.converged and result.plan == "tasks"
    assert abs(result.scores.sum() - 1.0) < 1e-12
    assert_like_networkx(result.as_dict(), expected)


def test_pagerank_of_wiki_vote_agrees_with_networkx_and_reports_progress() -> None:
    table = read_edge_list(SHARED_DATA / "graphs" / "wiki-vote.txt")
    reports: list[tuple[float, str]] = []
    result = pagerank(
        table,
        min_nnz_per_block=20_000,
        progress=lambda fraction, message: reports.append((fraction, message)),
    )
    expected = nx.pagerank(nx_graph(table))
    assert result.converged and result.plan == "in_process"  # one node: threads, not tasks
    assert_like_networkx(result.as_dict(), expected)
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert len(reports) == result.iterations


def test_pagerank_out_of_iterations_is_not_converged() -> None:
    graph = graph_from_edges(pa.table({"src": [0, 1, 2], "dst": [1, 2, 0]}))
    result = pagerank(graph, personalization={0: 1.0}, max_iter=2, tol=1e-15)
    assert (result.iterations, result.converged) == (2, False)
    assert abs(result.scores.sum() - 1.0) < 1e-12


def test_a_kernel_stops_between_iterations_when_cancelled() -> None:
    table = read_edge_list(SHARED_DATA / "graphs" / "wiki-vote.txt")
    asked: list[int] = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 3

    with pytest.raises(Cancelled):
        pagerank(table, tol=1e-15, max_iter=100, cancelled=cancelled)
    assert len(asked) == 4
    blocks = RowBlocks.put(sp.random(50, 50, density=0.1, format="csr"))
    with pytest.raises(Cancelled):
        truncated_svd(blocks, 3, cancelled=lambda: True)


def test_shape_mismatch_and_bad_distributions_are_refused() -> None:
    blocks = RowBlocks.put(sp.random(5, 4, density=0.5, format="csr"))
    with pytest.raises(ValidationFailed) as refused:
        spmv(blocks, np.ones(5))
    assert refused.value.error_code == "sparse_shape_mismatch"
    edges = pa.table({"src": [0, 1], "dst": [1, 0]})
    with pytest.raises(ValidationFailed) as refused:
        pagerank(edges, personalization={0: -1.0, 1: 0.5})
    assert refused.value.error_code == "pagerank_distribution_invalid"


def test_results_as_arrow_tables() -> None:
    scores = pagerank(pa.table({"src": [5, 6], "dst": [6, 5]})).to_arrow()
    assert scores.column_names == ["node", "score"]
    assert scores.column("node").to_pylist() == [5, 6]
    matrix = sp.random(30, 20, density=0.3, format="csr", random_state=1)
    tables = truncated_svd(matrix, 2).to_arrow()
    assert tables["singular_values"].num_rows == 2
    assert tables["u"].num_rows == 30
    assert len(tables["vt"].column("vector")[0]) == 20
