"""A trained model as stored in object storage (JSON): its coefficients, its fitted features
and its labels; and scoring rows with it."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal
from uuid import UUID

import numpy as np
import pyarrow as pa
import scipy.special
from pydantic import BaseModel, Field

from rivergen.services.ml.features import FeatureTransformer
from rivergen.services.ml.schemas import FeatureContribution, Prediction, Task

ARTIFACT_FORMAT = 1
MAX_CONTRIBUTIONS = 10


def artifact_key(workspace: UUID, model: UUID, job: UUID, candidate: int) -> str:
    """Where a training job's candidate is stored: the same for every attempt."""
    return f"workspaces/{workspace}/models/{model}/job-{job}-{candidate}.json"


class ModelArtifact(BaseModel):
    format: int = ARTIFACT_FORMAT
    task: Task
    family: Literal["logistic", "linear"]
    penalty: Literal["l2", "l1"]
    C: float
    coef: list[float]
    intercept: float
    transformer: list[dict[str, Any]] = Field(description="FeatureTransformer.state().")
    labels: list[Any] | None = Field(
        None, description="Classification: [negative, positive] labels as in the data."
    )
    target: str


class LoadedModel:
    """An artifact ready to score: its transformer built once."""

    def __init__(self, artifact: ModelArtifact) -> None:
        self.artifact = artifact
        self.transformer = FeatureTransformer.from_state(artifact.transformer)
        self.coef = np.asarray(artifact.coef, dtype=np.float64)
        self.names = self.transformer.feature_names()
        self.owners: list[str] = []  # the input column of each feature
        for state in self.transformer.state():
            width = len(FeatureTransformer([state]).feature_names())
            self.owners += [state["column"]] * width

    def predict(
        self,
        model_id: UUID,
        version: int,
        rows: list[dict[str, Any]],
        *,
        explain: bool = False,
        hidden: Collection[str] = (),
    ) -> list[Prediction]:
        """Score ``rows`` (422 for a row that does not fit). With ``explain``, each row's
        largest contributions; a column in ``hidden`` (masked or denied to the caller) is
        named without its value."""
        table = self.transformer.table_of_rows(rows)
        matrix = self.transformer.transform(table)
        z = np.asarray(matrix @ self.coef) + self.artifact.intercept
        classify = self.artifact.task == "classification"
        scores = scipy.special.expit(z) if classify else z
        labels = self.artifact.labels or [None, None]
        found = []
        for i, score in enumerate(scores):
            contributions = self._explain(matrix, table, i, hidden) if explain else []
            found.append(
                Prediction(
                    score=float(score),
                    label=(labels[1] if score >= 0.5 else labels[0]) if classify else None,
                    contributions=contributions,
                    model_id=model_id,
                    version=version,
                )
            )
        return found

    def _explain(
        self, matrix: Any, table: pa.Table, row: int, hidden: Collection[str]
    ) -> list[FeatureContribution]:
        start, stop = matrix.indptr[row], matrix.indptr[row + 1]
        columns, values = matrix.indices[start:stop], matrix.data[start:stop]
        shares = self.coef[columns] * values
        order = np.argsort(-np.abs(shares), kind="stable")[:MAX_CONTRIBUTIONS]
        owners = self.owners
        result = []
        for j in order:
            column = owners[int(columns[j])]
            name = self.names[int(columns[j])]
            if column in hidden:
                result.append(
                    FeatureContribution(feature=column, value=None, contribution=float(shares[j]))
                )
                continue
            result.append(
                FeatureContribution(
                    feature=name,
                    value=table.column(column)[row].as_py(),
                    contribution=float(shares[j]),
                )
            )
        return result
