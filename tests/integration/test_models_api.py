"""Model Studio's routes on the Northwind products: governed training, the registry's answers
(pages, versions, aliases, conflicts, 404s), deployment, and predictions only for callers whose
policies hide no more of the training data than its trainer's."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from sklearn.datasets import load_breast_cancer

from rivergen.settings import Settings
from tests.conftest import SHARED_DATA
from tests.integration.api_client import Account, new_team
from tests.integration.ray_cluster import ray_local
from tests.integration.test_datasets_api import create, put_file
from tests.integration.test_governance_api import add_policy
from tests.integration.test_jobs_api import client, settings_for_jobs, wait_for

PRODUCTS = SHARED_DATA / "northwind" / "products.csv"
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["client", "ray_local"]


@pytest.fixture(scope="module")
def job_settings(migrated: Settings) -> Settings:
    # Training as Ray tasks: rounds of tasks take long enough for a cancel to land mid-way.
    return settings_for_jobs(migrated, kernel_plan="tasks")


SMALL = "x,kind,y\n" + "".join(f"{i},{'ab'[i % 2]},{int(i % 3 == 0)}\n" for i in range(30))


async def new_model_dataset(client: httpx.AsyncClient, owner: Account) -> str:
    """A small dataset a model can learn `y` from (`x`, `kind`)."""
    file_id = await put_file(client, owner, "small.csv", SMALL.encode())
    made = await create(client, owner, f"small-{uuid.uuid4().hex[:8]}", file_id)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def train_body(dataset: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"m-{uuid.uuid4().hex[:8]}",
        "dataset": dataset,
        "target": "y",
        "task": "classification",
        **extra,
    }


async def new_model(
    client: httpx.AsyncClient,
    owner: Account,
    dataset: str | None = None,
    *,
    wait: bool = True,
    deploy: bool = True,
) -> str:
    """A model trained on :data:`SMALL` (and its champion deployed), or just started."""
    dataset = dataset or await new_model_dataset(client, owner)
    accepted = await client.post(
        "/api/v1/models", json=train_body(dataset), headers=owner.headers()
    )
    assert accepted.status_code == 202, accepted.text
    model = str(accepted.json()["model_id"])
    if wait:
        done = await wait_for(client, owner, accepted.json()["job_id"], timeout_s=120)
        assert done["state"] == "succeeded", done
    if wait and deploy:
        deployed = await client.post(f"/api/v1/models/{model}/deploy", headers=owner.headers())
        assert deployed.status_code == 200, deployed.text
    return model


async def test_governed_training_and_predictions_that_hide_masked_values(
    client: httpx.AsyncClient,
) -> None:
    people = await new_team(client)
    owner, admin, editor, viewer = (people[r] for r in ("owner", "admin", "editor", "viewer"))
    file_id = await put_file(client, owner, "products.csv", PRODUCTS.read_bytes())
    made = await create(client, owner, "products", file_id)
    dataset = str(made.json()["id"])
    await add_policy(
        client,
        admin,
        name="no suppliers",
        dataset_id=dataset,
        roles=["editor"],
        rule={"type": "access", "columns": ["supplierID"]},
    )
    await add_policy(
        client,
        admin,
        name="packaging",
        dataset_id=dataset,
        roles=["viewer"],
        rule={"type": "mask", "columns": ["quantityPerUnit"]},
    )

    # A column the submitter may not read cannot be named, and the defaults leave it out.
    body = {
        "name": "discontinued",
        "dataset": dataset,
        "target": "discontinued",
        "task": "classification",
    }
    named = {**body, "features": [{"column": "supplierID", "encoding": "one_hot"}]}
    denied = await client.post("/api/v1/models", json=named, headers=editor.headers())
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "column_denied"
    accepted = await client.post("/api/v1/models", json=body, headers=editor.headers())
    assert accepted.status_code == 202, accepted.text
    done = await wait_for(client, editor, accepted.json()["job_id"], timeout_s=120)
    assert done["state"] == "succeeded", done
    model = accepted.json()["model_id"]
    got = (await client.get(f"/api/v1/models/{model}", headers=viewer.headers())).json()
    inferred = {f["column"]: f["encoding"] for f in got["versions"][0]["features"]}
    assert "supplierID" not in inferred and "discontinued" not in inferred
    assert inferred["unitPrice"] == "numeric" and "productID" not in inferred  # an id

    # The owner's model learnt the raw packaging: it is not the viewer's, whose policies mask
    # it (403 derived_from_governed_data); the editor's hide a column it did not learn.
    packaging = {
        **body,
        "name": "by packaging",
        "features": [
            {"column": "quantityPerUnit", "encoding": "one_hot"},
            {"column": "unitPrice", "encoding": "numeric"},
        ],
        "challengers": [
            {
                "features": [
                    {"column": "quantityPerUnit", "encoding": "tfidf"},
                    {"column": "unitPrice", "encoding": "numeric"},
                ]
            }
        ],
    }
    accepted = await client.post("/api/v1/models", json=packaging, headers=owner.headers())
    assert accepted.status_code == 202, accepted.text
    done = await wait_for(client, owner, accepted.json()["job_id"], timeout_s=120)
    assert done["state"] == "succeeded", done
    model = accepted.json()["model_id"]
    url = f"/api/v1/models/{model}/predict"
    row = {"quantityPerUnit": "10 boxes x 20 bags", "unitPrice": 18.0}
    for version, raw_name in (
        (1, "quantityPerUnit=10 boxes x 20 bags"),
        (2, "quantityPerUnit:boxes"),
    ):
        deployed = await client.post(
            f"/api/v1/models/{model}/deploy", json={"version": version}, headers=editor.headers()
        )
        assert deployed.status_code == 200, deployed.text
        body = {"rows": [row], "explain": True, "version": version}
        seen = await client.post(url, json=body, headers=owner.headers())
        also = await client.post(url, json=body, headers=editor.headers())
        hidden = await client.post(url, json=body, headers=viewer.headers())
        assert seen.status_code == also.status_code == 200, also.text
        mine, theirs = seen.json()["predictions"][0], also.json()["predictions"][0]
        assert mine == theirs and mine["version"] == version
        shown = {c["feature"]: c["value"] for c in mine["contributions"]}
        assert raw_name in shown and shown[raw_name] is not None
        assert hidden.status_code == 403, hidden.text
        assert hidden.json()["error"]["code"] == "derived_from_governed_data"
        assert "boxes" not in hidden.text

    missing = await client.post(url, json={"rows": [{"unitPrice": 1}]}, headers=editor.headers())
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "row_missing_column"


async def test_registry_pages_conflicts_and_missing_versions(client: httpx.AsyncClient) -> None:
    people = await new_team(client)
    owner, viewer = people["owner"], people["viewer"]
    dataset = await new_model_dataset(client, owner)
    first = await new_model(client, owner, dataset, deploy=False)
    second = await new_model(client, owner, dataset, wait=False)

    page = await client.get("/api/v1/models", params={"limit": 1}, headers=viewer.headers())
    assert page.status_code == 200 and [m["id"] for m in page.json()["items"]] == [second]
    rest = await client.get(
        "/api/v1/models",
        params={"limit": 1, "cursor": page.json()["next_cursor"]},
        headers=viewer.headers(),
    )
    assert [m["id"] for m in rest.json()["items"]] == [first]
    assert rest.json()["items"][0]["champion"] in (1, 2)

    name = (await client.get(f"/api/v1/models/{first}", headers=owner.headers())).json()["name"]
    again = {**train_body(dataset), "name": name, "target": "x", "task": "regression"}
    other = await client.post("/api/v1/models", json=again, headers=owner.headers())
    assert other.status_code == 409, other.text
    assert other.json()["error"]["code"] == "model_definition_conflict"

    cases = [
        (f"/api/v1/models/{uuid.uuid4()}", None, "model_not_found"),
        (f"/api/v1/models/{first}/deploy", {"version": 9}, "model_not_found"),
        (f"/api/v1/models/{first}/deploy", {"version": "staging"}, "model_not_found"),
    ]
    for url, body, code in cases:
        response = await (
            client.post(url, json=body, headers=owner.headers())
            if body
            else client.get(url, headers=owner.headers())
        )
        assert response.status_code == 404 and response.json()["error"]["code"] == code
    rows = {"rows": [{"x": 1, "kind": "a"}]}
    refused = await client.post(
        f"/api/v1/models/{first}/predict", json=rows, headers=viewer.headers()
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "model_not_deployed"


async def test_a_cancelled_training_registers_nothing(client: httpx.AsyncClient) -> None:
    people = await new_team(client)
    owner = people["owner"]
    data = load_breast_cancer()
    table = pa.table(
        {
            **{str(n): data.data[:, j] for j, n in enumerate(data.feature_names)},
            "target": data.target,
        }
    )
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer)
    file_id = await put_file(client, owner, "cancer.csv", buffer.getvalue())
    dataset = str((await create(client, owner, "cancer", file_id)).json()["id"])
    many = [{"penalty": "l1", "C": c} for c in (0.1, 1.0, 10.0, 100.0, 1000.0)]
    body = {
        "name": "slow",
        "dataset": dataset,
        "target": "target",
        "task": "classification",
        "challengers": many,
    }
    accepted = await client.post("/api/v1/models", json=body, headers=owner.headers())
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()["job_id"]
    await wait_for(client, owner, job, states=("running",), until=lambda b: b["progress"] >= 10)
    cancelled = await client.post(f"/api/v1/jobs/{job}/cancel", headers=owner.headers())
    assert cancelled.status_code == 200, cancelled.text
    done = await wait_for(client, owner, job)
    assert done["state"] == "cancelled", done
    model = await client.get(
        f"/api/v1/models/{accepted.json()['model_id']}", headers=owner.headers()
    )
    assert model.json()["versions"] == [] and model.json()["champion"] is None
