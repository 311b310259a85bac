"""PageRank and similarity jobs through the API, on the supervisor and the Sparse Native
kernels, against NetworkX and brute force on the published data."""

from __future__ import annotations

from typing import Any

import httpx
import networkx as nx
import numpy as np
import pyarrow.csv as pacsv
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from rivergen.db import Database
from rivergen.sparse.arrow import read_edge_list
from tests.conftest import SHARED_DATA
from tests.integration.api_client import Account, register
from tests.integration.ray_cluster import ray_local
from tests.integration.test_datasets_api import create, put_file
from tests.integration.test_jobs_api import client, job_rows, job_settings, submit, wait_for

WIKI_VOTE = SHARED_DATA / "graphs" / "wiki-vote.txt"
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["client", "job_settings", "ray_local"]


async def all_rows(client: httpx.AsyncClient, owner: Account, job: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 5000, **({"cursor": cursor} if cursor else {})}
        page = await client.get(f"/api/v1/jobs/{job}/result", params=query, headers=owner.headers())
        assert page.status_code == 200, page.text
        rows += page.json()["rows"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return rows


async def test_pagerank_job_on_wiki_vote_matches_networkx(client: httpx.AsyncClient) -> None:
    owner = await register(client, "graphs")
    file_id = await put_file(client, owner, "wiki-vote.txt", WIKI_VOTE.read_bytes())
    # As published, one line ends in a space (three fields): it is kept aside, and listed.
    made = await create(
        client, owner, "wiki-vote", file_id, delimiter=" ", header=False, on_invalid_rows="skip"
    )
    assert made.status_code == 201, made.text
    aside = made.json()["versions"][0]["invalid_rows"]
    assert [(r["line"], r["text"]) for r in aside] == [(409, "6 1518 ")]
    assert made.json()["row_count"] == 103_689 - 1
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
    done = await wait_for(client, owner, accepted.json()["job_id"], timeout_s=120)
    assert done["state"] == "succeeded", done
    assert done["progress"] == 100
    summary = done["result"]["summary"]
    assert summary["converged"] and summary["nodes"] == 7115 and summary["edges"] == 103_688

    rows = await all_rows(client, owner, accepted.json()["job_id"])
    edges = read_edge_list(WIKI_VOTE)
    graph = nx.DiGraph()
    graph.add_edges_from(
        (a, b)
        for a, b in zip(edges.column(0).to_pylist(), edges.column(1).to_pylist(), strict=True)
        if (a, b) != (6, 1518)
    )
    expected = nx.pagerank(graph, alpha=0.85, tol=1e-12, max_iter=500)
    assert len(rows) == len(expected) == 7115
    got = np.array([r["score"] for r in rows])
    want = np.array([expected[r["node"]] for r in rows])
    assert np.max(np.abs(got - want) / want) < 1e-8
    assert abs(got.sum() - 1) < 1e-9


async def test_bad_pagerank_params_are_refused_before_any_task(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner = await register(client, "careless")
    products = await create(
        client,
        owner,
        "products",
        await put_file(
            client, owner, "products.csv", (SHARED_DATA / "northwind" / "products.csv").read_bytes()
        ),
    )
    empty = await create(
        client, owner, "no edges", await put_file(client, owner, "edges.csv", b"src,dst\n")
    )
    assert empty.status_code == 201 and empty.json()["row_count"] == 0
    cases = [
        ({"dataset": "00000000-0000-4000-8000-000000000000"}, "dataset_not_found"),
        (
            {
                "dataset": products.json()["id"],
                "src": "productID",
                "dst": "supplierID",
                "damping": 1.0,
            },
            "invalid_params",
        ),
        (
            {
                "dataset": products.json()["id"],
                "src": "productID",
                "dst": "supplierID",
                "weight": "productName",
            },
            "column_type_mismatch",
        ),
        ({"dataset": products.json()["id"], "src": "productID", "dst": "nope"}, "column_not_found"),
        (
            {"dataset": products.json()["id"], "src": "unitPrice", "dst": "supplierID"},
            "column_type_mismatch",
        ),
        ({"dataset": empty.json()["id"]}, "graph_has_no_edges"),
    ]
    for params, code in cases:
        refused = await submit(client, owner, "pagerank", params)
        assert refused.status_code == 422, (params, refused.text)
        assert refused.json()["error"]["code"] == code, (params, refused.text)
    assert await job_rows(db, owner.workspace_id) == 0


async def test_similarity_job_finds_each_products_nearest_names(
    client: httpx.AsyncClient,
) -> None:
    owner = await register(client, "similar")
    data = (SHARED_DATA / "northwind" / "products.csv").read_bytes()
    made = await create(client, owner, "products", await put_file(client, owner, "p.csv", data))
    accepted = await submit(
        client,
        owner,
        "similarity",
        {
            "dataset": made.json()["id"],
            "text": "quantityPerUnit",
            "id": "productID",
            "k": 3,
        },
    )
    assert accepted.status_code == 202, accepted.text
    done = await wait_for(client, owner, accepted.json()["job_id"], timeout_s=120)
    assert done["state"] == "succeeded", done
    rows = await all_rows(client, owner, accepted.json()["job_id"])
    assert len(rows) == 77 * 3
    assert all(r["row"] != r["neighbor"] for r in rows)
    # The best neighbour's score is the brute-force maximum of each row's cosine.
    products = pacsv.read_csv(SHARED_DATA / "northwind" / "products.csv")
    matrix = TfidfVectorizer().fit_transform(products["quantityPerUnit"].to_pylist())
    cosine = (matrix @ matrix.T).toarray()
    np.fill_diagonal(cosine, -np.inf)
    ids = products["productID"].to_pylist()
    best = {r["row"]: r["score"] for r in rows if r["rank"] == 1}
    for i, product in enumerate(ids):
        assert best[product] == pytest.approx(cosine[i].max(), abs=1e-12)
