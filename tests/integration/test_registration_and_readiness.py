"""What anyone may call without an account: registration is limited by address, and the public
readiness says what is failing but never why (operators read why)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from rivergen.settings import Settings
from tests.integration.api_client import register
from tests.integration.test_cli import rivergen
from tests.platform_app import create_app


@pytest.fixture
async def app(migrated: Settings) -> AsyncIterator[FastAPI]:
    auth = migrated.auth.model_copy(update={"registrations_per_hour": 3})
    application = create_app(migrated.model_copy(update={"auth": auth}))
    async with application.router.lifespan_context(application):
        yield application


def from_address(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 4242))
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


async def test_registration_is_limited_by_address(app: FastAPI) -> None:
    here = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"
    neighbour = here.replace("::1", "::2")  # the same /64
    elsewhere = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"
    async with from_address(app, here) as one, from_address(app, neighbour) as two:
        for _ in range(3):
            await register(one)
        email = f"late-{secrets.token_hex(4)}@example.com"
        refused = await two.post(
            "/api/v1/auth/register",
            json={
                "email": email,
                "password": "a long password 1",
                "display_name": "Late",
            },
        )
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "registration_throttled"
        assert int(refused.headers["retry-after"]) >= 1
        # Nothing was made: the email is still free from another address.
        async with from_address(app, elsewhere) as three:
            made = await three.post(
                "/api/v1/auth/register",
                json={
                    "email": email,
                    "password": "a long password 1",
                    "display_name": "Late",
                },
            )
            assert made.status_code == 201, made.text


async def test_public_readiness_has_no_error_detail_and_operators_see_it(app: FastAPI) -> None:
    # This process runs no Ray: one dependency fails.
    async with from_address(app, f"192.0.2.{secrets.randbelow(250)}") as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        dependencies = ready.json()["dependencies"]
        assert dependencies["ray"]["ok"] is False
        assert all(d["error"] is None for d in dependencies.values()), dependencies
        assert "initialized" not in ready.text

        operator = await register(client, "operator")
        refused = await client.get("/api/v1/operations/health", headers=operator.headers())
        assert refused.status_code == 403
        granted = rivergen("operators", "add", operator.email)
        assert granted.returncode == 0, granted.stderr
        health = await client.get("/api/v1/operations/health", headers=operator.headers())
        assert health.status_code == 200, health.text
        detail = health.json()["dependencies"]["dependencies"]["ray"]["error"]
        assert "not initialized" in detail
