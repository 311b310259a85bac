"""Distribution: a PageRank of the SNAP wiki-vote graph on a three-node cluster (head and two
nodes on this machine, one CPU each) runs its tasks on several nodes and equals the
single-process reference."""

from __future__ import annotations

from collections.abc import Iterator

import networkx as nx
import numpy as np
import pytest
import ray
import scipy.sparse as sp
from ray.cluster_utils import Cluster

from compute.sparse import RowBlocks, graph_from_edges, pagerank, read_edge_list, spmv
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def three_nodes() -> Iterator[Cluster]:
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False},
    )
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, configure_logging=False)
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_pagerank_of_wiki_vote_runs_on_several_nodes_and_matches(three_nodes: Cluster) -> None:
    assert len([n for n in ray.nodes() if n["Alive"]]) == 3
    edges = read_edge_list(SHARED_DATA / "graphs" / "wiki-vote.txt")
    result = pagerank(edges, min_nnz_per_block=10_000)
    assert len(result.task_nodes) >= 2, result.task_nodes
    assert result.converged
    expected = nx.DiGraph()
    expected.add_edges_from(
        zip(edges.column("src").to_pylist(), edges.column("dst").to_pylist(), strict=True)
    )
    reference = nx.pagerank(expected)
    scores = result.as_dict()
    assert scores.keys() == reference.keys()
    assert max(abs(scores[node] - reference[node]) for node in reference) < 1e-8


def test_blocks_are_spread_over_the_nodes_and_products_match(three_nodes: Cluster) -> None:
    graph = graph_from_edges(read_edge_list(SHARED_DATA / "graphs" / "wiki-vote.txt"))
    blocks = RowBlocks.put(graph.matrix, min_nnz_per_block=10_000)
    assert len(set(blocks.nodes)) == 3
    x = np.random.default_rng(3).standard_normal(graph.n_nodes)
    reference: sp.csr_matrix = graph.matrix
    np.testing.assert_allclose(spmv(blocks, x), reference @ x, rtol=1e-12, atol=1e-12)
