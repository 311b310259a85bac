"""The `Idempotency-Key` middleware's own rules, before any database is involved."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request

from rivergen.api.idempotency import IdempotencyMiddleware, fingerprint
from rivergen.idempotency import current_claim
from rivergen.settings import IdempotencySettings, Settings


def app_seeing_claims(max_body_bytes: int = 1024) -> FastAPI:
    app = FastAPI()
    app.state.settings = Settings.model_construct(
        idempotency=IdempotencySettings(max_body_bytes=max_body_bytes)
    )

    @app.api_route("/things", methods=["GET", "POST"])
    async def things(request: Request) -> dict[str, object]:
        claim = current_claim()
        return {"bytes": len(await request.body()), "key": claim.key if claim else None}

    app.add_middleware(IdempotencyMiddleware)
    return app


async def call(
    app: FastAPI, method: str, headers: dict[str, str], body: bytes = b"{}"
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return await client.request(method, "/things", headers=headers, content=body)


async def test_a_keyed_unsafe_request_reaches_the_route_whole_with_its_claim() -> None:
    body = b'{"name": "x"}' * 10
    answer = await call(app_seeing_claims(), "POST", {"Idempotency-Key": "k-1"}, body)
    assert answer.status_code == 200
    assert answer.json() == {"bytes": len(body), "key": "k-1"}
    assert "idempotent-replayed" not in answer.headers


async def test_reads_and_unkeyed_requests_carry_no_claim() -> None:
    app = app_seeing_claims()
    assert (await call(app, "GET", {"Idempotency-Key": "k-1"}, b"")).json()["key"] is None
    assert (await call(app, "POST", {})).json()["key"] is None


async def test_a_malformed_key_is_400() -> None:
    for key in ("x" * 256, "two words", "tab\there"):
        answer = await call(app_seeing_claims(), "POST", {"Idempotency-Key": key})
        assert answer.status_code == 400, key
        assert answer.json()["error"]["code"] == "invalid_idempotency_key"


async def test_a_keyed_body_past_the_limit_is_413() -> None:
    answer = await call(
        app_seeing_claims(max_body_bytes=10), "POST", {"Idempotency-Key": "k"}, b"x" * 11
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "idempotency_body_too_large"


def test_the_fingerprint_tells_requests_apart() -> None:
    def scope(method: str = "POST", path: str = "/a", query: bytes = b"") -> dict[str, object]:
        return {"method": method, "path": path, "query_string": query}

    base = fingerprint(scope(), b"{}")
    assert base == fingerprint(scope(), b"{}")
    others = [
        fingerprint(scope("PUT"), b"{}"),
        fingerprint(scope(path="/b"), b"{}"),
        fingerprint(scope(query=b"x=1"), b"{}"),
        fingerprint(scope(), b"{ }"),
    ]
    assert len({base, *others}) == 5
