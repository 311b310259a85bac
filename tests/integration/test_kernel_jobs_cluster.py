"""A PageRank job on a three-node Ray cluster on this machine (head and two nodes, one CPU
each): the job supervisor spreads its tasks over the nodes, and the answer is NetworkX's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import networkx as nx
import pytest
import ray
from ray.cluster_utils import Cluster

from rivergen.settings import Settings
from rivergen.sparse.arrow import read_edge_list
from tests.conftest import SHARED_DATA
from tests.integration.api_client import register
from tests.integration.test_datasets_api import create, put_file
from tests.integration.test_jobs_api import submit, wait_for
from tests.integration.test_kernel_jobs import WIKI_VOTE, all_rows
from tests.platform_app import create_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def three_nodes() -> Iterator[Cluster]:
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
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


@pytest.fixture
async def client(migrated: Settings, three_nodes: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    # Small blocks, so wiki-vote's 100k edges make one block per node.
    jobs = migrated.jobs.model_copy(update={"min_nnz_per_block": 10_000})
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    app = create_app(migrated.model_copy(update={"jobs": jobs, "gateway": gateway}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", timeout=60
        ) as http:
            yield http


async def test_a_pagerank_job_runs_on_several_nodes(client: httpx.AsyncClient) -> None:
    assert len([n for n in ray.nodes() if n["Alive"]]) == 3
    owner = await register(client, "cluster")
    file_id = await put_file(client, owner, "wiki-vote.txt", WIKI_VOTE.read_bytes())
    made = await create(
        client, owner, "wiki-vote", file_id, delimiter=" ", header=False, on_invalid_rows="skip"
    )
    assert made.status_code == 201, made.text
    accepted = await submit(
        client,
        owner,
        "pagerank",
        {
            "dataset": made.json()["id"],
            "src": "f0",
            "dst": "f1",
            "tol": 1e-12,
            "max_iter": 500,
        },
    )
    assert accepted.status_code == 202, accepted.text
    done = await wait_for(client, owner, accepted.json()["job_id"], timeout_s=180)
    assert done["state"] == "succeeded", done
    summary = done["result"]["summary"]
    assert summary["converged"] and summary["task_nodes"] >= 2, summary

    rows = await all_rows(client, owner, accepted.json()["job_id"])
    edges = read_edge_list(SHARED_DATA / "graphs" / "wiki-vote.txt")
    graph = nx.DiGraph()
    graph.add_edges_from(
        (a, b)
        for a, b in zip(edges.column(0).to_pylist(), edges.column(1).to_pylist(), strict=True)
        if (a, b) != (6, 1518)
    )
    expected = nx.pagerank(graph, alpha=0.85, tol=1e-12, max_iter=500)
    assert max(abs(r["score"] - expected[r["node"]]) / expected[r["node"]] for r in rows) < 1e-8
