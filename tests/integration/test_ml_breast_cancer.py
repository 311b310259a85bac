"""Acceptance of Model Studio: scikit-learn's breast-cancer data uploaded as a dataset, trained
through `POST /models` (a `train` job on the supervisor, GLMs as Ray tasks), held-out ROC AUC
against scikit-learn's LogisticRegression on the same split and scaling; the registered model
then monitored for drift and deciding through Decision Intelligence; and a regression on the
shop sample's orders against Ridge."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from rivergen.db import Database
from rivergen.services.ml.features import split_indices
from tests.integration.api_client import Account, register
from tests.integration.ray_cluster import ray_local
from tests.integration.test_datasets_api import create, outbox_types, put_file
from tests.integration.test_jobs_api import client, job_settings, wait_for

SHOP = Path(__file__).resolve().parents[2] / "rivergen" / "samples" / "shop"
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["client", "job_settings", "ray_local"]


async def upload(client: httpx.AsyncClient, owner: Account, name: str, data: bytes) -> str:
    made = await create(client, owner, name, await put_file(client, owner, f"{name}.csv", data))
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def train(
    client: httpx.AsyncClient, owner: Account, body: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Train through the API and wait for the job: the model id and the model."""
    accepted = await client.post("/api/v1/models", json=body, headers=owner.headers())
    assert accepted.status_code == 202, accepted.text
    done = await wait_for(client, owner, accepted.json()["job_id"], timeout_s=180)
    assert done["state"] == "succeeded", done
    assert done["progress"] == 100
    model_id = accepted.json()["model_id"]
    got = await client.get(f"/api/v1/models/{model_id}", headers=owner.headers())
    assert got.status_code == 200, got.text
    return str(model_id), got.json()


async def test_breast_cancer_champion_matches_scikit_learn(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner = await register(client, "oncology")
    data = load_breast_cancer()
    names = [str(n) for n in data.feature_names]
    x, y = data.data, data.target
    table = pa.table({**{n: x[:, j] for j, n in enumerate(names)}, "target": y})
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer)
    dataset = await upload(client, owner, "breast-cancer", buffer.getvalue())
    model_id, model = await train(
        client,
        owner,
        {
            "name": "malignancy",
            "dataset": dataset,
            "target": "target",
            "task": "classification",
        },
    )

    # Default features: the 30 measurements, numeric; two versions, the best the champion.
    versions = {v["version"]: v for v in model["versions"]}
    assert sorted(versions) == [1, 2]
    assert versions[1]["params"]["penalty"] == "l2" and versions[1]["params"]["C"] == 1.0
    assert versions[2]["params"]["penalty"] == "l1"
    assert [f["encoding"] for f in versions[1]["features"]] == ["numeric"] * 30
    champion = model["aliases"]["champion"]
    assert model["champion"] == champion and "champion" in versions[champion]["aliases"]
    best = max(versions.values(), key=lambda v: v["metrics"]["roc_auc"])
    assert versions[champion]["metrics"]["roc_auc"] == best["metrics"]["roc_auc"]

    # scikit-learn on the same split, the same scaling (fitted on the training rows).
    train_rows, test_rows = split_indices(len(y), 0.2, seed=0, strata=y.astype(float))
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=10_000))
    reference.fit(x[train_rows], y[train_rows])
    expected = reference.predict_proba(x[test_rows])[:, 1]
    auc = roc_auc_score(y[test_rows], expected)
    metrics = versions[1]["metrics"]
    assert metrics["rows"] == len(test_rows) == 113  # 20% of each class, rounded
    assert abs(metrics["roc_auc"] - auc) < 0.01, (metrics, auc)
    assert versions[champion]["metrics"]["roc_auc"] >= auc - 0.01
    assert set(metrics) >= {"accuracy", "log_loss", "confusion_matrix"}
    assert sum(map(sum, metrics["confusion_matrix"])) == 113

    # Not servable until deployed; then the same probabilities as scikit-learn's.
    rows = [dict(zip(names, map(float, x[i]), strict=True)) for i in test_rows[:5]]
    refused = await client.post(
        f"/api/v1/models/{model_id}/predict",
        json={"rows": rows, "version": 1},
        headers=owner.headers(),
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "model_not_deployed"
    deployed = await client.post(
        f"/api/v1/models/{model_id}/deploy", json={"version": 1}, headers=owner.headers()
    )
    assert deployed.status_code == 200 and deployed.json()["deployed"], deployed.text
    scored = await client.post(
        f"/api/v1/models/{model_id}/predict",
        json={"rows": rows, "version": 1, "explain": True},
        headers=owner.headers(),
    )
    assert scored.status_code == 200, scored.text
    predictions = scored.json()["predictions"]
    assert np.allclose([p["score"] for p in predictions], expected[:5], atol=0.02)
    assert [p["label"] for p in predictions] == [int(s >= 0.5) for s in expected[:5]]
    top = predictions[0]["contributions"]
    assert 0 < len(top) <= 10 and top[0]["feature"] in names
    assert abs(top[0]["contribution"]) >= abs(top[-1]["contribution"])

    types = await outbox_types(db, owner.workspace_id)
    assert "model.trained" in types and "train.results" in types

    # The registry serves the other agents. Model Monitoring against the model's training data:
    # a copy with two shifted features drifts, naming exactly them.
    std = x.std(axis=0)
    moved = x.copy()
    moved[:, names.index("mean radius")] += 0.5 * std[names.index("mean radius")]
    moved[:, names.index("worst texture")] *= 1.3
    copy = io.BytesIO()
    pacsv.write_csv(pa.table({n: moved[:, j] for j, n in enumerate(names)}), copy)
    shifted = await upload(client, owner, "breast-cancer-shifted", copy.getvalue())
    checked = await client.post(
        f"/api/v1/models/{model_id}/monitoring",
        json={"dataset_id": shifted, "model_version": 1},
        headers=owner.headers(),
    )
    assert checked.status_code == 201, checked.text
    drift = checked.json()["drift"]
    assert sorted(drift["drifted_features"]) == ["mean radius", "worst texture"], drift
    assert checked.json()["alerted"] and "model.drift_detected" in await outbox_types(
        db, owner.workspace_id
    )

    # Decision Intelligence scores with the deployed version; a hard limit turns its yes into
    # a no and is named.
    best = int(np.argmax(reference.predict_proba(x)[:, 1]))
    case = dict(zip(names, map(float, x[best]), strict=True))
    request = {"model_id": model_id, "version": 1, "features": case}
    said_yes = await client.post("/api/v1/decisions/analyze", json=request, headers=owner.headers())
    assert said_yes.status_code == 200, said_yes.text
    assert said_yes.json()["outcome"] == "approve" and said_yes.json()["scored_by"] == "model"
    limit = {
        "name": "radius over the reviewed maximum",
        "when": {"feature": "mean radius", "op": "ge", "value": case["mean radius"]},
    }
    made = await client.post(
        "/api/v1/decisions/guidelines",
        headers=owner.headers(),
        json={"name": "oncology review", "limits": [limit]},
    )
    assert made.status_code == 201, made.text
    said_no = await client.post("/api/v1/decisions/analyze", json=request, headers=owner.headers())
    assert said_no.json()["outcome"] == "decline", said_no.text
    assert said_no.json()["score"] == pytest.approx(said_yes.json()["score"])
    assert [h["name"] for h in said_no.json()["explanation"]["limits_hit"]] == [limit["name"]]


async def test_regression_on_shop_orders_matches_ridge(client: httpx.AsyncClient) -> None:
    owner = await register(client, "shop")
    data = (SHOP / "orders.csv").read_bytes()
    dataset = await upload(client, owner, "orders", data)
    categorical = ["product_id", "channel", "status"]
    features = [{"column": "quantity", "encoding": "numeric"}] + [
        {"column": c, "encoding": "one_hot"} for c in categorical
    ]
    model_id, model = await train(
        client,
        owner,
        {
            "name": "order amount",
            "dataset": dataset,
            "target": "amount",
            "task": "regression",
            "features": features,
            "challengers": [{"penalty": "l2", "C": 0.1}],
        },
    )
    versions = {v["version"]: v for v in model["versions"]}
    assert set(versions[1]["metrics"]) >= {"rmse", "mae", "r2"}

    orders = pacsv.read_csv(io.BytesIO(data))
    y = orders["amount"].to_numpy().astype(float)
    x = np.column_stack(
        [orders["quantity"].to_numpy().astype(float)]
        + [np.array([str(v) for v in orders[c].to_pylist()], dtype=object) for c in categorical]
    )
    train_rows, test_rows = split_indices(len(y), 0.2, seed=0)
    reference = make_pipeline(
        ColumnTransformer(
            [
                ("scaled", StandardScaler(), [0]),
                ("onehot", OneHotEncoder(handle_unknown="ignore"), [1, 2, 3]),
            ]
        ),
        Ridge(alpha=1.0),
    )
    reference.fit(x[train_rows], y[train_rows])
    r2 = r2_score(y[test_rows], reference.predict(x[test_rows]))
    assert abs(versions[1]["metrics"]["r2"] - r2) < 0.01, (versions[1]["metrics"], r2)

    deployed = await client.post(f"/api/v1/models/{model_id}/deploy", headers=owner.headers())
    assert deployed.status_code == 200, deployed.text
    row = {c: orders[c][0].as_py() for c in ["quantity", *categorical]}
    scored = await client.post(
        f"/api/v1/models/{model_id}/predict", json={"rows": [row]}, headers=owner.headers()
    )
    assert scored.status_code == 200, scored.text
    assert scored.json()["predictions"][0]["label"] is None
    assert scored.json()["predictions"][0]["version"] == model["champion"]
