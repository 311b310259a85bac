"""The block sizing rule: no block under the floor of nonzeros, cuts at equal nonzeros."""

from __future__ import annotations

import numpy as np

from compute.sparse.blocks import MIN_NNZ_PER_BLOCK, plan_row_blocks


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
