"""The block sizing rule (no block under the floor of nonzeros, cuts at equal nonzeros), the
plan (in process or Ray tasks) and the kernels in process."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds
from sklearn.linear_model import LogisticRegression

from compute.sparse import RowBlocks, pagerank, spgemm, spmm, spmv, truncated_svd
from compute.sparse.blocks import MIN_NNZ_PER_BLOCK, choose_plan, plan_row_blocks
from compute.sparse.glm import fit_glm


def test_a_matrix_under_the_floor_is_one_block() -> None:
    indptr = np.arange(0, MIN_NNZ_PER_BLOCK, 10)
    np.testing.assert_array_equal(plan_row_blocks(indptr, cpus=8), [0, len(indptr) - 1])


def test_blocks_are_cut_at_equal_nonzeros_one_per_cpu() -> None:
    # the first half of the rows holds 9 in 10 of the nonzeros
    lengths = np.concatenate([np.full(500, 90), np.full(500, 10)])
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    offsets = plan_row_blocks(indptr, cpus=4, min_nnz_per_block=1000)
    assert len(offsets) == 5
    nnz = np.diff(indptr[offsets])
    assert nnz.max() - nnz.min() <= 90


def test_empty_and_tiny_matrices() -> None:
    np.testing.assert_array_equal(plan_row_blocks(np.array([0]), cpus=2), [0, 0])
    np.testing.assert_array_equal(
        plan_row_blocks(np.array([0, 5, 9]), cpus=4, min_nnz_per_block=1), [0, 1, 2]
    )


def test_the_plan_follows_the_cluster_and_the_size() -> None:
    # One node: its CPUs are this process's threads, whatever the size.
    assert choose_plan(10**9, nodes=1) == "in_process"
    # Several nodes: under two blocks' worth a round of tasks cannot pay.
    assert choose_plan(2 * MIN_NNZ_PER_BLOCK - 1, nodes=3) == "in_process"
    assert choose_plan(2 * MIN_NNZ_PER_BLOCK, nodes=3) == "tasks"
    assert choose_plan(20_000, nodes=2, min_nnz_per_block=10_000) == "tasks"


def random_csr(rows: int, cols: int, per_row: int, seed: int = 3) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    nnz = rows * per_row
    return sp.csr_matrix(
        (rng.random(nnz), rng.integers(0, cols, nnz), np.arange(0, nnz + 1, per_row)),
        shape=(rows, cols),
    )


def test_in_process_products_equal_scipy_over_any_number_of_blocks() -> None:
    """Without a Ray cluster the kernels run here, a thread per block; every product is SciPy's
    on the whole matrix, to the last bit where no sum is split and to rounding where it is."""
    matrix = random_csr(800_000, 300_000, 5)  # 4e6 nonzeros: four threads' worth
    x = np.random.default_rng(4).random(matrix.shape[1])
    t = np.random.default_rng(5).random(matrix.shape[0])
    dense = np.random.default_rng(6).random((matrix.shape[1], 3))
    for cpus in (1, 2, 4):
        blocks = RowBlocks.put(matrix, cpus=cpus)
        assert blocks.plan == "in_process" and blocks.refs == ()
        assert len(blocks) == cpus
        np.testing.assert_array_equal(spmv(blocks, x), matrix @ x)
        np.testing.assert_allclose(spmv(blocks, t, transpose=True), matrix.T @ t, rtol=1e-12)
        np.testing.assert_array_equal(spmm(blocks, dense), matrix @ dense)
        other = random_csr(matrix.shape[1], 40, 2, seed=7)
        assert abs(spgemm(blocks, other) - matrix @ other).max() < 1e-12


def test_in_process_pagerank_svd_and_glm_match_their_references() -> None:
    graph = random_csr(20_000, 20_000, 8, seed=11)
    ours = pagerank(graph, tol=1e-10)
    assert ours.plan == "in_process" and ours.converged
    n = graph.shape[0]
    out = np.asarray(graph.sum(axis=1)).ravel()
    inverse = np.divide(1.0, out, out=np.zeros(n), where=out != 0)
    x = np.full(n, 1.0 / n)
    for _ in range(ours.iterations):
        x = 0.85 * (graph.T @ (x * inverse) + x[out == 0].sum() / n) + 0.15 / n
    np.testing.assert_allclose(ours.scores, x, rtol=1e-9)

    matrix = random_csr(3_000, 500, 10, seed=12)
    svd = truncated_svd(matrix, 3)
    expected = np.sort(svds(matrix, k=3, return_singular_vectors=False))[::-1]
    np.testing.assert_allclose(svd.s, expected, rtol=1e-9)

    labels = (np.random.default_rng(13).random(matrix.shape[0]) < 0.4).astype(float)
    fit = fit_glm(matrix, labels, C=0.5, tol=1e-8, max_iter=1000)
    assert fit.plan == "in_process" and fit.converged
    reference = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(matrix, labels)
    np.testing.assert_allclose(fit.coef, reference.coef_.ravel(), atol=1e-4)
