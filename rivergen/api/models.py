"""Routes of Model Studio: models trained as jobs, their versions, deployment and prediction.
(``/models/{model_id}/monitoring`` belongs to Model Monitoring.)"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, status

from rivergen.api.accounts import ERRORS
from rivergen.api.deps import ModelsDep, ModelStudioDep, PageCursor, PageLimit
from rivergen.api.security import Context, authorize
from rivergen.services.ml.schemas import (
    DeployRequest,
    ModelDetail,
    ModelPage,
    ModelVersionView,
    PredictRequest,
    PredictResponse,
    TrainAccepted,
    TrainRequest,
)

router = APIRouter(
    prefix="/api/v1", dependencies=[Depends(authorize)], responses=ERRORS, tags=["models"]
)


Models = ModelsDep
Studio = ModelStudioDep


@router.post("/models", status_code=status.HTTP_202_ACCEPTED)
async def train_model(body: TrainRequest, context: Context, models: Models) -> TrainAccepted:
    """Train a new version of the model `name` (created if new) as a `train` job: a champion
    (L2 logistic or linear regression, C=1) and its challengers, compared on a seeded held-out
    split; the best becomes the `champion` alias. Follow `job_id` (`GET /jobs/{id}`, the
    `job.*` events) or the `model.trained` event. 422 `dataset_not_found`,
    `column_not_found`, `column_type_mismatch`; 403 `column_denied`; 409
    `model_definition_conflict` (that name predicts another target)."""
    return await models.train(context, body)


@router.get("/models")
async def list_models(
    context: Context, models: Models, limit: PageLimit = 50, cursor: PageCursor = None
) -> ModelPage:
    """Newest first; follow `next_cursor`."""
    return await models.list_models(context, limit, cursor)


@router.get("/models/{model_id}")
async def get_model(model_id: UUID, context: Context, models: Models) -> ModelDetail:
    """The model with its versions (held-out metrics, params, features), aliases and which
    versions are deployed."""
    return await models.get(context, model_id)


@router.post("/models/{model_id}/deploy")
async def deploy_model(
    model_id: UUID,
    context: Context,
    models: Models,
    body: Annotated[DeployRequest | None, Body()] = None,
) -> ModelVersionView:
    """Make a version servable (`version`: a number or an alias; default the champion)."""
    return await models.deploy(context, model_id, body.version if body else None)


@router.post("/models/{model_id}/predict")
async def predict(
    model_id: UUID, body: PredictRequest, context: Context, studio: Studio
) -> PredictResponse:
    """Score `rows` (objects with the model's input columns) with a deployed version
    (default the champion): 409 `model_not_deployed`; 422 `row_missing_column`,
    `row_value_invalid`. `explain` adds each score's largest feature contributions (a column
    your policies mask is named without its value)."""
    predictions = await studio.predict(
        context, model_id, body.rows, version=body.version, explain=body.explain
    )
    return PredictResponse(predictions=predictions)
