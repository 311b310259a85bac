"""Features, split and metrics of the Machine Learning service, against scikit-learn's."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
)
from sklearn.preprocessing import StandardScaler

from rivergen.errors import ValidationFailed
from rivergen.services.ml.artifact import LoadedModel, ModelArtifact
from rivergen.services.ml.features import FeatureTransformer, infer_specs, split_indices
from rivergen.services.ml.metrics import classification_metrics, regression_metrics
from rivergen.services.ml.schemas import FeatureSpec

TABLE = pa.table(
    {
        "amount": [10.0, 20.0, None, 40.0, 50.0, 60.0],
        "quantity": [1, 2, 3, 4, 5, 6],
        "channel": ["web", "mobile", "web", None, "store", "web"],
        "city": ["a", "b", "c", "d", "e", "f"],
    }
)
SPECS = [
    FeatureSpec(column="amount", encoding="numeric"),
    FeatureSpec(column="quantity", encoding="numeric"),
    FeatureSpec(column="channel", encoding="one_hot"),
    FeatureSpec(column="city", encoding="hashing", n_features=8),
]


def test_numeric_columns_are_scaled_like_standard_scaler_and_nulls_are_the_mean() -> None:
    fitted = FeatureTransformer.fit(TABLE, SPECS[:2])
    matrix = fitted.transform(TABLE).toarray()
    expected = StandardScaler().fit_transform(np.array([[1, 2, 3, 4, 5, 6]], float).T)
    assert np.allclose(matrix[:, 1], expected[:, 0])
    amounts = np.array([10, 20, 40, 50, 60.0])
    assert np.allclose(matrix[[0, 1, 3, 4, 5], 0], (amounts - amounts.mean()) / amounts.std())
    assert matrix[2, 0] == 0.0


def test_one_hot_names_each_value_seen_and_ignores_unseen_ones() -> None:
    fitted = FeatureTransformer.fit(TABLE, SPECS[2:3])
    assert fitted.feature_names() == ["channel=mobile", "channel=store", "channel=web"]
    other = pa.table({"channel": ["web", "fax", None]})
    assert fitted.transform(other).toarray().tolist() == [[0, 0, 1], [0, 0, 0], [0, 0, 0]]


def test_state_is_json_and_gives_the_same_transform() -> None:
    fitted = FeatureTransformer.fit(TABLE, SPECS)
    again = FeatureTransformer.from_state(json.loads(json.dumps(fitted.state())))
    assert again.feature_names() == fitted.feature_names()
    assert len(fitted.feature_names()) == 2 + 3 + 8
    assert (again.transform(TABLE) != fitted.transform(TABLE)).nnz == 0
    assert again.specs == SPECS


def test_rows_as_callers_send_them_must_carry_every_column() -> None:
    fitted = FeatureTransformer.fit(TABLE, SPECS)
    rows = [{"amount": 25, "quantity": "3", "channel": "web", "city": "zz"}]
    matrix = fitted.transform(fitted.table_of_rows(rows))
    assert matrix.shape == (1, 13)
    with pytest.raises(ValidationFailed) as missing:
        fitted.table_of_rows([{"amount": 1}])
    assert missing.value.error_code == "row_missing_column"
    with pytest.raises(ValidationFailed) as invalid:
        fitted.table_of_rows([{**rows[0], "amount": "lots"}])
    assert invalid.value.error_code == "row_value_invalid"


def test_default_specs_follow_the_columns() -> None:
    words = [f"a long description of item number {i} with words" for i in range(60)]
    table = pa.table(
        {
            "y": [i % 2 for i in range(60)],
            "id": list(range(60)),
            "x": [i / 3 for i in range(60)],
            "kind": ["a", "b", "c"] * 20,
            "text": words,
        }
    )
    specs = {s.column: s.encoding for s in infer_specs(table, "y")}
    assert specs == {"x": "numeric", "kind": "one_hot", "text": "tfidf"}


def test_the_split_is_seeded_and_stratified() -> None:
    labels = np.array([0] * 70 + [1] * 30)
    train, test = split_indices(100, 0.2, seed=3, strata=labels)
    assert len(test) == 20 and labels[test].sum() == 6
    assert sorted([*train, *test]) == list(range(100))
    assert np.array_equal(split_indices(100, 0.2, seed=3, strata=labels)[1], test)


def test_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    got = classification_metrics(y, p)
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert got["log_loss"] == pytest.approx(log_loss(y, p))
    assert got["accuracy"] == pytest.approx(accuracy_score(y, p >= 0.5))
    assert got["confusion_matrix"] == confusion_matrix(y, p >= 0.5).tolist()
    target, fitted = rng.random(50), rng.random(50)
    reg = regression_metrics(target, fitted)
    assert reg["r2"] == pytest.approx(r2_score(target, fitted))
    assert reg["mae"] == pytest.approx(mean_absolute_error(target, fitted))


def test_a_loaded_artifact_scores_and_explains_rows() -> None:
    fitted = FeatureTransformer.fit(TABLE, SPECS[1:3])
    coef = [2.0, 0.0, 0.0, -1.0]  # quantity, channel=mobile, =store, =web
    model = LoadedModel(
        ModelArtifact(
            task="classification",
            family="logistic",
            penalty="l2",
            C=1.0,
            coef=coef,
            intercept=0.5,
            transformer=fitted.state(),
            labels=["no", "yes"],
            target="t",
        )
    )
    model_id = uuid.uuid4()
    rows = [{"quantity": 6, "channel": "web"}, {"quantity": 1, "channel": "web"}]
    first, second = model.predict(model_id, 1, rows, explain=True)
    z = 2.0 * (6 - 3.5) / np.std([1, 2, 3, 4, 5, 6]) - 1.0 + 0.5
    assert first.score == pytest.approx(1 / (1 + np.exp(-z))) and first.label == "yes"
    assert second.label == "no"
    assert [c.feature for c in first.contributions] == ["quantity", "channel=web"]
    assert first.contributions[1].value == "web" and first.contributions[1].contribution == -1
    hidden = model.predict(model_id, 1, rows[:1], explain=True, hidden={"channel"})[0]
    assert hidden.contributions[1].feature == "channel" and hidden.contributions[1].value is None
