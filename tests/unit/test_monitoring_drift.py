"""Drift and performance statistics on real data: scikit-learn's breast-cancer data (numeric)
and the shop sample's orders (categorical)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import (
    accuracy_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

from rivergen.events import Event, Topic
from rivergen.notifications.events import MODEL_DRIFT_DETECTED, socket_event_of
from rivergen.services.monitoring import (
    MonitoredFeature,
    classification_metrics,
    drift_report,
    performance_report,
    regression_metrics,
)

ORDERS = Path(__file__).resolve().parents[2] / "rivergen" / "samples" / "shop" / "orders.csv"
SHIFTED = ["mean radius", "worst texture"]


@pytest.fixture(scope="module")
def cancer() -> tuple[pa.Table, list[MonitoredFeature]]:
    data = load_breast_cancer()
    names = [str(n) for n in data.feature_names]
    table = pa.table({**{n: data.data[:, i] for i, n in enumerate(names)}, "target": data.target})
    return table, [MonitoredFeature(n, "numeric") for n in names]


def resample(table: pa.Table, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    return table.take(rng.integers(0, table.num_rows, table.num_rows))


def replaced(table: pa.Table, name: str, values: np.ndarray) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, pa.array(values))


def shifted(table: pa.Table) -> pa.Table:
    """An i.i.d. resample with `mean radius` half a standard deviation higher and `worst
    texture` 30% larger."""
    copy = resample(table, 99)
    radius = np.asarray(copy["mean radius"])
    copy = replaced(copy, "mean radius", radius + 0.5 * np.std(np.asarray(table["mean radius"])))
    return replaced(copy, "worst texture", np.asarray(copy["worst texture"]) * 1.3)


def test_an_iid_resample_of_the_training_data_does_not_alarm(
    cancer: tuple[pa.Table, list[MonitoredFeature]],
) -> None:
    table, features = cancer
    reports = [
        drift_report(table, resample(table, seed), features, seed=seed) for seed in range(20)
    ]
    false_alarms = sum(r.drifted for r in reports)
    print(f"false alarms over 20 i.i.d. resamples: {false_alarms}/20")
    assert false_alarms <= 1
    assert all(0.0 <= r.multivariate_score <= 1.0 for r in reports)
    assert reports[0].test_level == pytest.approx(0.05 / 31)


def test_two_shifted_features_are_named_and_only_they(
    cancer: tuple[pa.Table, list[MonitoredFeature]],
) -> None:
    table, features = cancer
    report = drift_report(table, shifted(table), features)
    assert report.drifted
    assert sorted(report.drifted_features) == sorted(SHIFTED)
    by_name = {f.name: f for f in report.features}
    assert all(by_name[n].psi >= 0.1 and by_name[n].p_value < report.test_level for n in SHIFTED)
    assert report.multivariate_drifted and report.multivariate_score > 0.9


def test_categorical_drift_by_chi_squared_on_the_shop_orders() -> None:
    orders = pcsv.read_csv(ORDERS)
    features = [
        MonitoredFeature("status", "categorical"),
        MonitoredFeature("channel", "categorical"),
    ]
    same = drift_report(orders, resample(orders, 7), features)
    assert not same.drifted
    # Half of the web orders move to the mobile channel.
    channel = np.asarray(orders["channel"].to_pylist(), dtype=object)
    web = np.flatnonzero(channel == "web")
    channel[web[: len(web) // 2]] = "mobile"
    moved = drift_report(orders, replaced(orders, "channel", channel), features)
    assert moved.drifted_features == ["channel"]
    row = moved.features[1]
    assert row.kind == "categorical" and row.statistic > 0 and row.p_value < moved.test_level


def test_nulls_and_unseen_categories_count_as_drift_of_their_own() -> None:
    reference = pa.table({"x": [float(i % 50) for i in range(2000)], "c": ["a", "b"] * 1000})
    current = pa.table(
        {"x": [None if i % 3 == 0 else float(i % 50) for i in range(2000)], "c": ["z"] * 2000}
    )
    features = [MonitoredFeature("x", "numeric"), MonitoredFeature("c", "categorical")]
    report = drift_report(reference, current, features)
    assert sorted(report.drifted_features) == ["c", "x"]
    assert report.features[0].current_nulls == pytest.approx(667 / 2000)


def test_metrics_agree_with_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    p = np.clip(0.3 * y + 0.7 * rng.random(500), 0.01, 0.99)
    ours = classification_metrics(y, p)
    assert ours["accuracy"] == pytest.approx(accuracy_score(y, p >= 0.5))
    assert ours["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert ours["log_loss"] == pytest.approx(log_loss(y, p))
    target = rng.normal(size=500)
    fitted = target + 0.3 * rng.normal(size=500)
    mine = regression_metrics(target, fitted)
    assert mine["rmse"] == pytest.approx(root_mean_squared_error(target, fitted))
    assert mine["mae"] == pytest.approx(mean_absolute_error(target, fitted))
    assert mine["r2"] == pytest.approx(r2_score(target, fitted))


def test_performance_degrades_past_the_tolerances() -> None:
    training = {"accuracy": 0.95, "roc_auc": 0.99, "log_loss": 0.1, "confusion_matrix": [[1]]}
    fine = performance_report(
        "classification", {"accuracy": 0.93, "roc_auc": 0.97, "log_loss": 0.2}, training, 100
    )
    assert not fine.degraded and fine.changes["accuracy"] == pytest.approx(-0.02)
    worse = performance_report(
        "classification", {"accuracy": 0.85, "roc_auc": 0.97, "log_loss": 0.4}, training, 100
    )
    assert worse.degraded_metrics == ["accuracy"]
    rmse = performance_report("regression", {"rmse": 1.2, "mae": 1, "r2": 0.5}, {"rmse": 1.0}, 9)
    assert rmse.degraded_metrics == ["rmse"]


def test_a_drift_event_reaches_the_workspace_room() -> None:
    event = Event(type=MODEL_DRIFT_DETECTED, workspace_id="00000000-0000-0000-0000-000000000001")
    assert socket_event_of(Topic.MODEL_METRICS, event) == MODEL_DRIFT_DETECTED
