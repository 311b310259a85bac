"""Decision Intelligence through the API, on Ray, with a Predictor of the test's own over a real
GLM (compute.sparse.glm.fit_glm on scikit-learn's breast-cancer data): a hard limit turns a
confident yes into a no and the explanation names it; a failing model falls back to another
model, then to the baseline; a simulation over the dataset runs end to end through Kafka and
its counts match a direct computation."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import numpy as np
import pytest
import scipy.sparse as sp
from fastapi import FastAPI

from compute.adapters import ray_adapters
from compute.decisions import RayDecisionCompute
from compute.sparse.glm import GLMResult, fit_glm
from rivergen.accounts.principal import RequestContext
from rivergen.agents.dia import DecisionAgent, SimulationRunner
from rivergen.db import Database
from rivergen.domain import SimulationProcess
from rivergen.errors import DependencyUnavailable, NotFound, ValidationFailed
from rivergen.events import OutboxRelay, Topic
from rivergen.events.bus import ensure_platform_topics
from rivergen.events.connect import connect_event_bus
from rivergen.services.decisions import GuidelineCreate, decide
from rivergen.services.ml.schemas import FeatureContribution, Prediction
from rivergen.settings import Settings
from tests.integration.api_client import Account, register
from tests.integration.ray_cluster import ray_local
from tests.platform_app import create_app, services

pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]

MODEL = uuid.UUID("00000000-0000-4000-8000-00000000c0de")
BROKEN = uuid.UUID("00000000-0000-4000-8000-0000000000ff")


@dataclass(frozen=True)
class BreastCancer:
    columns: list[str]
    X: np.ndarray
    y: np.ndarray


def breast_cancer() -> BreastCancer:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    columns = [str(name).replace(" ", "_") for name in data.feature_names]
    return BreastCancer(columns, np.asarray(data.data, dtype=np.float64), data.target)


class GlmPredictor:
    """The Predictor contract over one GLM trained here (scaled numeric features; score =
    P(benign)); another model id is 404 `model_not_found`, ``BROKEN`` is unavailable."""

    def __init__(self, data: BreastCancer, model: GLMResult) -> None:
        self.columns = data.columns
        self.mean = data.X.mean(axis=0)
        self.std = data.X.std(axis=0)
        self.model = model

    def scores(self, X: np.ndarray) -> np.ndarray:
        scaled = (X - self.mean) / self.std
        return np.asarray(self.model.predict(sp.csr_matrix(scaled)))

    async def predict(
        self,
        context: RequestContext,
        model_id: UUID,
        rows: list[dict[str, Any]],
        *,
        version: int | str | None = None,
        explain: bool = False,
    ) -> list[Prediction]:
        if model_id == BROKEN:
            raise DependencyUnavailable("the model's replica is down", code="model_unavailable")
        if model_id != MODEL:
            raise NotFound(f"model {model_id} not found", code="model_not_found")
        try:
            X = np.array([[float(row[c]) for c in self.columns] for row in rows])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed(f"rows do not fit: {exc}", code="rows_invalid") from exc
        scaled = (X - self.mean) / self.std
        predictions = []
        for x, raw, score in zip(scaled, X, self.scores(X), strict=True):
            contributions = sorted(
                (
                    FeatureContribution(feature=c, value=v, contribution=float(w * s))
                    for c, v, w, s in zip(self.columns, raw, self.model.coef, x, strict=True)
                ),
                key=lambda f: abs(f.contribution),
                reverse=True,
            )
            predictions.append(
                Prediction(
                    score=float(score),
                    label=int(score >= 0.5),
                    model_id=MODEL,
                    version=1,
                    contributions=contributions if explain else [],
                )
            )
        return predictions


@pytest.fixture(scope="module")
def data() -> BreastCancer:
    return breast_cancer()


@pytest.fixture(scope="module")
def predictor(data: BreastCancer, ray_local: None) -> GlmPredictor:
    scaled = (data.X - data.X.mean(axis=0)) / data.X.std(axis=0)
    model = fit_glm(sp.csr_matrix(scaled), data.y, C=1.0)
    return GlmPredictor(data, model)


def _settings(migrated: Settings) -> Settings:
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    decisions = migrated.decisions.model_copy(update={"simulation_block_rows": 200})
    return migrated.model_copy(update={"gateway": gateway, "decisions": decisions})


@pytest.fixture
async def app(migrated: Settings, predictor: GlmPredictor) -> AsyncIterator[FastAPI]:
    settings = _settings(migrated)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        registry = services(application)
        registry.decisions = DecisionAgent(
            registry.clients.db,
            registry.datasets,
            predictor,
            settings.decisions,
            RayDecisionCompute(settings),
        )
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gateway", timeout=120
    ) as http:
        yield http


def _csv(data: BreastCancer) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*data.columns, "benign"])
    for x, y in zip(data.X, data.y, strict=True):
        writer.writerow([*(repr(float(v)) for v in x), int(y)])
    return out.getvalue().encode()


async def upload_dataset(client: httpx.AsyncClient, owner: Account, data: BreastCancer) -> str:
    uploaded = await client.post(
        "/api/v1/storage/upload",
        files={"file": ("breast_cancer.csv", _csv(data), "text/csv")},
        headers=owner.headers(),
    )
    assert uploaded.status_code == 201, uploaded.text
    made = await client.post(
        "/api/v1/datasets",
        json={"name": f"bc-{uuid.uuid4().hex[:6]}", "file_id": uploaded.json()["id"]},
        headers=owner.headers(),
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def features(data: BreastCancer, row: int) -> dict[str, float]:
    return {c: float(v) for c, v in zip(data.columns, data.X[row], strict=True)}


async def analyze(client: httpx.AsyncClient, who: Account, body: dict[str, Any]) -> Any:
    response = await client.post("/api/v1/decisions/analyze", json=body, headers=who.headers())
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_hard_limit_turns_a_yes_into_a_no_and_is_named(
    client: httpx.AsyncClient, data: BreastCancer, predictor: GlmPredictor, db: Database
) -> None:
    owner = await register(client, "owner")
    scores = predictor.scores(data.X)
    row = int(np.argmax(scores))
    case = features(data, row)
    said_yes = await analyze(client, owner, {"model_id": str(MODEL), "features": case})
    assert said_yes["outcome"] == "approve" and said_yes["scored_by"] == "model"
    assert said_yes["score"] == pytest.approx(scores[row]) and said_yes["score"] > 0.9
    top = said_yes["explanation"]["top_contributions"]
    assert len(top) == 5
    assert [abs(c["contribution"]) for c in top] == sorted(
        (abs(c["contribution"]) for c in top), reverse=True
    )

    limit = {
        "name": "radius at or over the reviewed maximum",
        "when": {"feature": "mean_radius", "op": "ge", "value": case["mean_radius"]},
    }
    created = await client.post(
        "/api/v1/decisions/guidelines",
        json={"name": "lending", "limits": [limit]},
        headers=owner.headers(),
    )
    assert created.status_code == 201, created.text
    said_no = await analyze(client, owner, {"model_id": str(MODEL), "features": case})
    assert said_no["outcome"] == "decline"
    assert said_no["score"] == pytest.approx(scores[row])  # the score still said yes
    assert [h["name"] for h in said_no["limits_hit"]] == [limit["name"]]
    explanation = said_no["explanation"]
    assert [h["name"] for h in explanation["limits_hit"]] == [limit["name"]]
    assert limit["name"] in explanation["summary"] and "approve" in explanation["summary"]
    assert said_no["guideline_id"] == created.json()["id"]

    # Every decision is kept, newest first, and each was announced.
    listed = await client.get("/api/v1/decisions?limit=1", headers=owner.headers())
    assert [d["id"] for d in listed.json()["items"]] == [said_no["id"]]
    following = await client.get(
        f"/api/v1/decisions?limit=1&cursor={listed.json()['next_cursor']}",
        headers=owner.headers(),
    )
    assert [d["id"] for d in following.json()["items"]] == [said_yes["id"]]
    one = await client.get(f"/api/v1/decisions/{said_no['id']}", headers=owner.headers())
    assert one.json()["limits_hit"] == said_no["limits_hit"]
    async with db.transaction() as conn:
        announced = await conn.fetch(
            "SELECT topic, payload::jsonb->'data'->>'outcome' AS outcome FROM event_outbox "
            "WHERE payload::jsonb->>'type' = 'decision.made' "
            "AND payload::jsonb->'data'->>'decision_id' = ANY($1::text[])",
            [said_yes["id"], said_no["id"]],
        )
    assert sorted((r["topic"], r["outcome"]) for r in announced) == [
        (Topic.MODELS.value, "approve"),
        (Topic.MODELS.value, "decline"),
    ]

    # Without the guideline set, the score decides again.
    deleted = await client.delete(
        f"/api/v1/decisions/guidelines/{created.json()['id']}", headers=owner.headers()
    )
    assert deleted.status_code == 204
    again = await analyze(client, owner, {"model_id": str(MODEL), "features": case})
    assert again["outcome"] == "approve"


async def test_a_failing_model_falls_back_to_another_then_to_the_baseline(
    client: httpx.AsyncClient, data: BreastCancer, predictor: GlmPredictor, migrated: Settings
) -> None:
    owner = await register(client, "owner")
    case = features(data, 7)
    expected = float(predictor.scores(data.X[7:8])[0])
    by_fallback = await analyze(
        client,
        owner,
        {
            "model_id": str(BROKEN),
            "fallback_model_id": str(MODEL),
            "features": case,
        },
    )
    assert by_fallback["scored_by"] == "fallback_model"
    assert by_fallback["model_id"] == str(MODEL)
    assert by_fallback["score"] == pytest.approx(expected)
    assert "model_unavailable" in by_fallback["explanation"]["fallback"]

    missing = uuid.uuid4()
    by_baseline = await analyze(client, owner, {"model_id": str(missing), "features": case})
    assert by_baseline["scored_by"] == "baseline"
    assert by_baseline["score"] == migrated.decisions.baseline_score
    assert by_baseline["outcome"] == "review"
    assert "model_not_found" in by_baseline["explanation"]["fallback"]
    assert by_baseline["explanation"]["top_contributions"] == []

    # Features that do not fit the model are the caller's error, not a reason to fall back.
    unfit = await client.post(
        "/api/v1/decisions/analyze",
        json={"model_id": str(MODEL), "features": {"mean_radius": 1.0}},
        headers=owner.headers(),
    )
    assert unfit.status_code == 422 and unfit.json()["error"]["code"] == "rows_invalid"


async def test_a_dataset_row_is_decided_by_index_or_key(
    client: httpx.AsyncClient, data: BreastCancer, predictor: GlmPredictor
) -> None:
    owner = await register(client, "owner")
    dataset = await upload_dataset(client, owner, data)
    expected = predictor.scores(data.X)
    by_index = await analyze(
        client, owner, {"model_id": str(MODEL), "dataset_id": dataset, "row_index": 42}
    )
    assert by_index["score"] == pytest.approx(expected[42])
    assert by_index["features"]["mean_radius"] == data.X[42][0]
    assert (by_index["dataset_id"], by_index["row_index"]) == (dataset, 42)
    radius = float(data.X[100][0])
    first = int(np.flatnonzero(data.X[:, 0] == radius)[0])
    by_key = await analyze(
        client,
        owner,
        {
            "model_id": str(MODEL),
            "dataset_id": dataset,
            "row_key": {"column": "mean_radius", "value": radius},
        },
    )
    assert by_key["score"] == pytest.approx(expected[first])
    beyond = await client.post(
        "/api/v1/decisions/analyze",
        json={"model_id": str(MODEL), "dataset_id": dataset, "row_index": 10_000},
        headers=owner.headers(),
    )
    assert beyond.status_code == 404
    assert beyond.json()["error"]["code"] == "dataset_row_not_found"


async def test_a_simulation_runs_through_kafka_and_matches_a_direct_computation(
    app: FastAPI,
    client: httpx.AsyncClient,
    data: BreastCancer,
    predictor: GlmPredictor,
    migrated: Settings,
    db: Database,
) -> None:
    owner = await register(client, "owner")
    dataset = await upload_dataset(client, owner, data)
    guideline = GuidelineCreate.model_validate(
        {
            "name": "screening",
            "thresholds": [
                {"outcome": "approve", "min_score": 0.8},
                {"outcome": "review", "min_score": 0.3},
            ],
            "rules": [
                {
                    "name": "rough texture",
                    "adjust": -0.15,
                    "when": {"feature": "worst_texture", "op": "ge", "value": 30},
                }
            ],
            "limits": [
                {"name": "large area", "when": {"feature": "mean_area", "op": "gt", "value": 1000}}
            ],
        }
    )
    created = await client.post(
        "/api/v1/decisions/guidelines",
        json=guideline.model_dump(mode="json"),
        headers=owner.headers(),
    )
    assert created.status_code == 201, created.text
    queued = await client.post(
        "/api/v1/decisions/simulate",
        json={"model_id": str(MODEL), "dataset_id": dataset},
        headers=owner.headers(),
    )
    assert queued.status_code == 202, queued.text
    simulation = queued.json()["id"]
    assert queued.json()["status"] == "queued"
    assert queued.json()["guideline_id"] == created.json()["id"]  # the newest, fixed now

    # The worker as its deployment runs it (its own clients, its own consumer group here).
    settings = _settings(migrated)
    decisions = settings.decisions.model_copy(
        update={"simulation_group": f"decision-simulation-test-{uuid.uuid4()}"}
    )
    settings = settings.model_copy(update={"decisions": decisions})
    process = await SimulationProcess.open(settings, ray_adapters(settings), predictor)
    bus = connect_event_bus(settings)
    await bus.start()
    await ensure_platform_topics(bus)
    results = bus.consumer(Topic.DECISION_SIMULATION_RESULT, f"dia-test-{uuid.uuid4()}")
    await results.start()
    stop = asyncio.Event()
    worker = asyncio.create_task(process.run(stop))
    relay = OutboxRelay(
        db, bus, topics=[Topic.DECISION_SIMULATION_REQUEST, Topic.DECISION_SIMULATION_RESULT]
    )
    relay.start()
    published: list[Any] = []
    try:
        async with asyncio.timeout(90):
            while not any(e.event.data.get("simulation_id") == simulation for e in published):
                published.extend(await results.getmany(max_records=100, timeout_s=1))
    finally:
        stop.set()
        await worker
        await relay.stop()
        await results.stop()
        await bus.stop()
        await process.close()

    view = (
        await client.get(f"/api/v1/decisions/simulations/{simulation}", headers=owner.headers())
    ).json()
    assert view["status"] == "completed", view
    result = view["result"]

    # The same decisions computed directly, here.
    scores = predictor.scores(data.X)
    direct = [
        decide(float(s), features(data, i), guideline, guideline.limits)
        for i, s in enumerate(scores)
    ]
    assert result["rows"] == len(data.y) == 569
    assert result["scored_by"] == "model"
    assert result["outcome_counts"] == dict(Counter(d.outcome for d in direct))
    assert result["row_outcomes"] == [d.outcome for d in direct]
    assert result["limit_hits"] == {"large area": int((data.X[:, 3] > 1000).sum())}
    assert result["rule_hits"] == {"rough texture": int((data.X[:, 21] >= 30).sum())}
    assert result["mean_score"] == pytest.approx(float(scores.mean()))
    assert len(set(result["outcome_counts"])) == 3  # every outcome occurs: the test means something
    # The result went out on decision.simulation.result, with the counts.
    mine = [e.event for e in published if e.event.data.get("simulation_id") == simulation]
    assert mine[0].type == "decision.simulation.completed"
    assert mine[0].data["outcome_counts"] == result["outcome_counts"]

    # A redelivered request does not run it again.
    agent = services(app).decisions
    runner = SimulationRunner(db, agent, RayDecisionCompute(settings))
    again = await runner.run(UUID(owner.workspace_id), UUID(simulation))
    assert again is not None and again.finished_at is not None
    assert again.finished_at.isoformat() == view["finished_at"].replace("Z", "+00:00")
