"""Model Monitoring through the gateway on the real services (Postgres, S3, the outbox, Ray):
a logistic GLM trained here with the Sparse Native kernel on scikit-learn's breast-cancer data,
checked against an i.i.d. resample (no alarm) and a copy with two shifted features (those two
named, an event on `model.metrics`).

Until the model registry is wired into the gateway, the test registers its model with a
ModelLookup and Predictor of its own over the trained GLM (no mock: real coefficients, real
scores)."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
import scipy.sparse as sp
from fastapi import FastAPI
from sklearn.datasets import load_breast_cancer

from compute.monitoring import RayMonitoringCompute
from compute.sparse.glm import GLMResult, fit_glm
from rivergen.accounts.principal import RequestContext
from rivergen.db import Database
from rivergen.errors import NotFound
from rivergen.services.ml.schemas import FeatureSpec, ModelVersionView, Prediction
from rivergen.services.monitoring import MonitoringService, classification_metrics
from rivergen.settings import Settings
from tests.integration.api_client import Account, add_member, register
from tests.integration.ray_cluster import ray_local
from tests.integration.test_datasets_api import create, put_file
from tests.platform_app import create_app, services

pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]
SHIFTED = ["mean radius", "worst texture"]


@dataclass
class Trained:
    workspace: UUID
    view: ModelVersionView
    glm: GLMResult
    mean: np.ndarray
    std: np.ndarray

    def scores(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        x = np.array([[float(r[f.column]) for f in self.view.features] for r in rows])
        return self.glm.predict(sp.csr_matrix((x - self.mean) / self.std))


class TrainedModels:
    """A ModelLookup and Predictor over GLMs trained in this test, per workspace."""

    def __init__(self) -> None:
        self.models: dict[UUID, Trained] = {}

    async def version(
        self, context: RequestContext, model_id: UUID, version: int | str | None = None
    ) -> ModelVersionView:
        found = self.models.get(model_id)
        if found is None or found.workspace != context.workspace_id:
            raise NotFound(f"model {model_id} not found", code="model_not_found")
        return found.view

    async def predict(
        self,
        context: RequestContext,
        model_id: UUID,
        rows: list[dict[str, Any]],
        *,
        version: int | str | None = None,
        explain: bool = False,
    ) -> list[Prediction]:
        view = await self.version(context, model_id, version)
        return [
            Prediction(score=float(s), label=int(s >= 0.5), model_id=model_id, version=view.version)
            for s in self.models[model_id].scores(rows)
        ]


def cancer() -> pa.Table:
    data = load_breast_cancer()
    columns = {str(n): data.data[:, i] for i, n in enumerate(data.feature_names)}
    return pa.table({**columns, "target": data.target})


def resample(table: pa.Table, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    return table.take(rng.integers(0, table.num_rows, table.num_rows))


def with_shift(table: pa.Table) -> pa.Table:
    copy = resample(table, 99)
    radius = np.asarray(copy["mean radius"]) + 0.5 * np.std(np.asarray(table["mean radius"]))
    copy = copy.set_column(copy.schema.get_field_index("mean radius"), "mean radius", [radius])
    texture = np.asarray(copy["worst texture"]) * 1.3
    index = copy.schema.get_field_index("worst texture")
    return copy.set_column(index, "worst texture", [texture])


def csv_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pcsv.write_csv(table, sink)
    return sink.getvalue()


def train(table: pa.Table, workspace: UUID, dataset: UUID) -> Trained:
    names = [n for n in table.column_names if n != "target"]
    x = np.column_stack([np.asarray(table[n]) for n in names])
    mean, std = x.mean(axis=0), x.std(axis=0)
    y = np.asarray(table["target"], dtype=np.float64)
    glm = fit_glm(sp.csr_matrix((x - mean) / std), y, family="logistic", C=1.0)
    metrics = classification_metrics(y, glm.predict(sp.csr_matrix((x - mean) / std)))
    view = ModelVersionView(
        model_id=uuid.uuid4(),
        name="cancer",
        version=1,
        task="classification",
        target="target",
        features=[FeatureSpec(column=n, encoding="numeric") for n in names],
        dataset_id=dataset,
        dataset_version=1,
        metrics=metrics,
        params={"penalty": "l2", "C": 1.0},
        aliases=["champion"],
        deployed=True,
        created_at=datetime.now(UTC),
    )
    return Trained(workspace, view, glm, mean, std)


def install_trained_models(app: FastAPI) -> TrainedModels:
    """Wire Model Monitoring into a started app over this test's own models."""
    models = TrainedModels()
    registry = services(app)
    registry.models = models
    registry.monitoring = MonitoringService(
        registry.clients.db,
        registry.datasets,
        registry.governance,
        models,
        models,
        compute=RayMonitoringCompute(),
    )
    return models


async def register_model(app: FastAPI, client: httpx.AsyncClient, owner: Account) -> Trained:
    """A model trained on the breast-cancer data, in ``owner``'s workspace, with its training
    dataset."""
    table = cancer()
    training = await dataset(client, owner, "cancer", table)
    trained = train(table, UUID(owner.workspace_id), UUID(training))
    services(app).models.models[trained.view.model_id] = trained
    return trained


@pytest.fixture
async def app(migrated: Settings) -> AsyncIterator[FastAPI]:
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    application = create_app(migrated.model_copy(update={"gateway": gateway}))
    async with application.router.lifespan_context(application):
        install_trained_models(application)
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw", timeout=120) as c:
        yield c


async def dataset(client: httpx.AsyncClient, owner: Account, name: str, table: pa.Table) -> str:
    file_id = await put_file(client, owner, f"{name}.csv", csv_bytes(table))
    made = await create(client, owner, f"{name}-{uuid.uuid4().hex[:6]}", file_id)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def metrics_events(db: Database, workspace: str) -> list[dict[str, Any]]:
    async with db.transaction() as conn:
        rows = await conn.fetch(
            "SELECT payload->>'type' AS type, payload->'data' AS data FROM event_outbox "
            "WHERE topic = 'model.metrics' AND payload->>'workspace_id' = $1 ORDER BY id",
            workspace,
        )
    return [{"type": r["type"], "data": json.loads(r["data"])} for r in rows]


async def test_drift_is_named_on_shifted_data_and_not_raised_on_a_resample(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    owner, bob = await register(client, "owner"), await register(client, "bob")
    table = cancer()
    training = await dataset(client, owner, "cancer", table)
    trained = train(table, UUID(owner.workspace_id), UUID(training))
    model = trained.view.model_id
    services(app).models.models[model] = trained
    url = f"/api/v1/models/{model}/monitoring"

    same = await dataset(client, owner, "cancer-resample", resample(table, 5))
    checked = await client.post(url, json={"dataset_id": same}, headers=owner.headers())
    assert checked.status_code == 201, checked.text
    calm = checked.json()
    assert not calm["drift"]["drifted"] and calm["drift"]["drifted_features"] == []
    assert not calm["alerted"]
    assert calm["reference_dataset_id"] == training and calm["dataset_version"] == 1
    assert calm["performance"]["rows"] == table.num_rows
    assert not calm["performance"]["degraded"]
    assert calm["performance"]["metrics"]["roc_auc"] > 0.98
    assert await metrics_events(db, owner.workspace_id) == []

    moved = await dataset(client, owner, "cancer-shifted", with_shift(table))
    checked = await client.post(url, json={"dataset_id": moved}, headers=owner.headers())
    assert checked.status_code == 201, checked.text
    alarm = checked.json()
    assert alarm["drift"]["drifted"] and alarm["alerted"]
    assert sorted(alarm["drift"]["drifted_features"]) == SHIFTED
    assert alarm["drift"]["multivariate_drifted"]
    events = await metrics_events(db, owner.workspace_id)
    drift_events = [e for e in events if e["type"] == "model.drift_detected"]
    assert len(drift_events) == 1
    assert sorted(drift_events[0]["data"]["drifted_features"]) == SHIFTED
    assert drift_events[0]["data"]["report_id"] == alarm["id"]

    first = await client.get(url, params={"limit": 1}, headers=owner.headers())
    assert first.status_code == 200, first.text
    assert [r["id"] for r in first.json()["items"]] == [alarm["id"]]
    cursor = first.json()["next_cursor"]
    second = await client.get(url, params={"limit": 1, "cursor": cursor}, headers=owner.headers())
    assert [r["id"] for r in second.json()["items"]] == [calm["id"]]
    assert second.json()["next_cursor"] is None

    # Another workspace does not see the model, its reports, or check it.
    for method, body in (("GET", None), ("POST", {"dataset_id": same})):
        response = await client.request(method, url, json=body, headers=bob.headers())
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "model_not_found"


async def test_missing_features_are_refused_and_an_undeployed_model_has_no_performance(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await register(client, "owner")
    trained = await register_model(app, client, owner)
    partial = await dataset(client, owner, "partial", cancer().drop(["mean radius"]))
    response = await client.post(
        f"/api/v1/models/{trained.view.model_id}/monitoring",
        json={"dataset_id": partial},
        headers=owner.headers(),
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "feature_columns_missing"
    assert error["details"]["columns"] == ["mean radius"]
    # Not deployed: no scores, so no performance; the drift is still checked.
    trained.view = trained.view.model_copy(update={"deployed": False})
    response = await client.post(
        f"/api/v1/models/{trained.view.model_id}/monitoring",
        json={"dataset_id": str(trained.view.dataset_id)},
        headers=owner.headers(),
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["performance"] is None and "not deployed" in report["performance_note"]
    assert not report["drift"]["drifted"]


async def test_each_caller_checks_the_data_their_policies_let_them_see(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await register(client, "owner")
    editor = await add_member(client, owner, "editor")
    trained = await register_model(app, client, owner)
    same = await dataset(client, owner, "cancer-resample", resample(cancer(), 5))
    # Editors see only the small tumours of the new data: to them, it has drifted.
    policy = await client.post(
        "/api/v1/policies",
        json={
            "name": "small tumours",
            "dataset_id": same,
            "roles": ["editor"],
            "rule": {
                "type": "row_filter",
                "filters": [{"column": "mean radius", "op": "<", "value": 13}],
            },
        },
        headers=owner.headers(),
    )
    assert policy.status_code == 201, policy.text
    url = f"/api/v1/models/{trained.view.model_id}/monitoring"
    as_owner = await client.post(url, json={"dataset_id": same}, headers=owner.headers())
    as_editor = await client.post(url, json={"dataset_id": same}, headers=editor.headers())
    assert as_owner.status_code == as_editor.status_code == 201, (as_owner.text, as_editor.text)
    seen, filtered = as_owner.json()["drift"], as_editor.json()["drift"]
    assert not seen["drifted"] and seen["current_rows"] == 569
    assert filtered["drifted"] and "mean radius" in filtered["drifted_features"]
    assert filtered["current_rows"] < 569 and filtered["reference_rows"] == 569
