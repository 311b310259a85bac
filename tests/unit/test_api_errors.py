"""The error shape every client relies on: {"error": {code, message, request_id, details}}."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from rivergen.api.errors import install_error_handlers
from rivergen.api.request_id import RequestIdMiddleware
from rivergen.errors import DependencyUnavailable, NotFound


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


def make_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)

    @app.get("/datasets/{dataset_id}")
    async def get_dataset(dataset_id: str) -> None:
        raise NotFound(f"dataset {dataset_id} not found", code="dataset_not_found")

    @app.get("/down")
    async def down() -> None:
        raise DependencyUnavailable("postgres is unavailable")

    @app.post("/things")
    async def create(body: Body) -> Body:
        return body

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    return app


client = httpx.AsyncClient(
    transport=httpx.ASGITransport(app=make_app(), raise_app_exceptions=False),
    base_url="http://gateway",
)


async def test_platform_error_has_code_message_and_request_id() -> None:
    response = await client.get("/datasets/d1", headers={"X-Request-ID": "abcdef123456"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "abcdef123456"
    assert response.json() == {
        "error": {
            "code": "dataset_not_found",
            "message": "dataset d1 not found",
            "request_id": "abcdef123456",
            "details": {},
        }
    }


async def test_request_id_is_made_when_missing_or_insane() -> None:
    response = await client.get("/datasets/d1", headers={"X-Request-ID": "bad id\nwith newline"})
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32 and request_id != "bad id\nwith newline"
    assert response.json()["error"]["request_id"] == request_id


async def test_unavailable_dependency_is_503_with_retry_after() -> None:
    response = await client.get("/down")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] == "dependency_unavailable"


async def test_unknown_field_is_422_without_echoing_input() -> None:
    response = await client.post("/things", json={"name": "x", "workspace_id": "hunter2-secret"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["details"]["errors"][0]["loc"] == ["body", "workspace_id"]
    assert "hunter2-secret" not in response.text


async def test_unknown_route_and_unexpected_error() -> None:
    assert (await client.get("/nope")).json()["error"]["code"] == "not_found"
    response = await client.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "secret internals" not in response.text
