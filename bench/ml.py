"""Model Studio end to end: training through the API against scikit-learn, and `predict`
through the gateway against the same scoring in-process.

    python -m bench.ml [--requests N] [--port P]   (needs the backing services; prints JSON)

Training: scikit-learn's breast-cancer data uploaded as a CSV dataset, `POST /api/v1/models`
(the champion, L2 at C=1, and the default L1 challenger, as a `train` job on the supervisor),
timed from the request to the job's success; reference: `StandardScaler` +
`LogisticRegression(C=1)` fitted in this process on the same split, twice (L2 and L1, the
`saga` solver). Both AUCs are on the same held-out rows.

Predict: the gateway app (`create_app`) served by uvicorn in this process, one row per
request, sequential, over loopback HTTP (httpx), after a warm-up; reference: the same loaded
artifact scoring the same row with no HTTP, database or policy lookup (`LoadedModel.predict`).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import statistics
import time
import uuid
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import ray
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.api import create_dataset, direct_upload, serving, sign_up, wait_job
from rivergen.accounts.credentials import generate_private_key_pem
from rivergen.api.registry import registry_of
from rivergen.services.ml.artifact import LoadedModel, ModelArtifact
from rivergen.services.ml.features import split_indices


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _upload(http: httpx.AsyncClient, headers: dict[str, str], data: bytes) -> str:
    async def read(offset: int, length: int) -> bytes:
        return data[offset : offset + length]

    sha256 = hashlib.sha256(data).hexdigest()
    file_id, _ = await direct_upload(http, headers, "breast-cancer.csv", len(data), sha256, read)
    return str((await create_dataset(http, headers, "breast-cancer", file_id))["id"])


def _sklearn(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> dict[str, Any]:
    started = time.perf_counter()
    l2 = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=10_000))
    l2.fit(x[train], y[train])
    l1 = make_pipeline(
        StandardScaler(),
        LogisticRegression(
            C=1.0,
            l1_ratio=1.0,
            solver="saga",
            max_iter=10_000,
        ),
    )
    l1.fit(x[train], y[train])
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "auc_l2": float(roc_auc_score(y[test], l2.predict_proba(x[test])[:, 1])),
        "auc_l1": float(roc_auc_score(y[test], l1.predict_proba(x[test])[:, 1])),
    }


async def run(requests: int, port: int) -> dict[str, Any]:
    async with serving(port, rate_limit=False, timeout_s=120) as (app, http):
        return await _measure(app, http, requests)


async def _measure(app: Any, http: httpx.AsyncClient, requests: int) -> dict[str, Any]:
    headers = await sign_up(http)
    data = load_breast_cancer()
    names = [str(n) for n in data.feature_names]
    x, y = data.data, data.target
    buffer = io.BytesIO()
    pacsv.write_csv(pa.table({**{n: x[:, j] for j, n in enumerate(names)}, "target": y}), buffer)
    dataset = await _upload(http, headers, buffer.getvalue())

    started = time.perf_counter()
    accepted = (
        await http.post(
            "/api/v1/models",
            headers=headers,
            json={
                "name": "malignancy",
                "dataset": dataset,
                "target": "target",
                "task": "classification",
            },
        )
    ).json()
    job = await wait_job(http, headers, accepted["job_id"])
    train_seconds = time.perf_counter() - started
    assert job["state"] == "succeeded", job
    model_id = accepted["model_id"]
    model = (await http.get(f"/api/v1/models/{model_id}", headers=headers)).json()
    versions = {v["version"]: v for v in model["versions"]}
    train, test = split_indices(len(y), 0.2, seed=0, strata=y.astype(float))
    reference = _sklearn(x, y, train, test)

    await http.post(f"/api/v1/models/{model_id}/deploy", headers=headers)
    row = dict(zip(names, map(float, x[test[0]]), strict=True))
    body = {"rows": [row]}
    url = f"/api/v1/models/{model_id}/predict"
    for _ in range(20):
        assert (await http.post(url, json=body, headers=headers)).status_code == 200
    gateway: list[float] = []
    for _ in range(requests):
        start = time.perf_counter()
        response = await http.post(url, json=body, headers=headers)
        gateway.append(time.perf_counter() - start)
        assert response.status_code == 200
    async with registry_of(app).clients.db.transaction(headers["X-Workspace-ID"]) as conn:
        key = await conn.fetchval(
            "SELECT v.artifact_key FROM model_versions v JOIN model_aliases a ON "
            "a.model_id = v.model_id AND a.version = v.version WHERE v.model_id = $1 "
            "AND a.alias = 'champion'",
            uuid.UUID(model_id),
        )
    loaded = LoadedModel(
        ModelArtifact.model_validate_json(await registry_of(app).clients.objects.get(key))
    )
    bare: list[float] = []
    for i in range(requests + 20):
        start = time.perf_counter()
        loaded.predict(uuid.UUID(model_id), 1, [row])
        if i >= 20:
            bare.append(time.perf_counter() - start)
    return {
        "rows": len(y),
        "features": len(names),
        "held_out": len(test),
        "train_seconds": train_seconds,
        "job_compute_seconds": job["compute_seconds"],
        "auc_l2": versions[1]["metrics"]["roc_auc"],
        "auc_l1": versions[2]["metrics"]["roc_auc"],
        "champion": model["champion"],
        "sklearn": reference,
        "requests": requests,
        "gateway_p50_ms": _percentile(gateway, 0.5) * 1e3,
        "gateway_p99_ms": _percentile(gateway, 0.99) * 1e3,
        "gateway_mean_ms": statistics.mean(gateway) * 1e3,
        "bare_p50_ms": _percentile(bare, 0.5) * 1e3,
        "bare_p99_ms": _percentile(bare, 0.99) * 1e3,
        "load_average": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--port", type=int, default=23100)
    args = parser.parse_args()
    os.environ.setdefault("RIVERGEN_AUTH__JWT_PRIVATE_KEY", generate_private_key_pem())
    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False)
    try:
        print(json.dumps(asyncio.run(run(args.requests, args.port))))
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
