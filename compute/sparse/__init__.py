"""Sparse Native: Arrow data as SciPy CSR, split by rows into the Ray object store once, and
kernels as Ray tasks over those blocks.

Every kernel takes ``progress(fraction, message)`` and ``cancelled()`` callbacks and raises
:class:`Cancelled` when asked to stop (checked between iterations).
"""

from compute.sparse.blocks import RowBlocks, plan_row_blocks
from compute.sparse.control import Cancelled, IsCancelled, Progress
from compute.sparse.pagerank import PageRankResult, pagerank
from compute.sparse.products import spgemm, spmm, spmv
from compute.sparse.svd import SVDResult, truncated_svd
from rivergen.sparse.arrow import (
    Graph,
    OneHot,
    csr_from_lists,
    csr_from_parts,
    dense_block,
    dense_column,
    graph_from_edges,
    one_hot,
    read_edge_list,
)

__all__ = [
    "Cancelled",
    "Graph",
    "IsCancelled",
    "OneHot",
    "PageRankResult",
    "Progress",
    "RowBlocks",
    "SVDResult",
    "csr_from_lists",
    "csr_from_parts",
    "dense_block",
    "dense_column",
    "graph_from_edges",
    "one_hot",
    "pagerank",
    "plan_row_blocks",
    "read_edge_list",
    "spgemm",
    "spmm",
    "spmv",
    "truncated_svd",
]
