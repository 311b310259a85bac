"""Accounts, workspaces, members and API keys through the gateway app, on the real services."""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest

from rivergen.settings import Settings
from tests.integration.api_client import add_member, join, register
from tests.platform_app import create_app


@pytest.fixture
async def client(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(migrated)
    async with app.router.lifespan_context(app):
        # A client address of its own per test: the login throttle counts by address.
        address = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"
        transport = httpx.ASGITransport(app=app, client=(address, 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http


async def test_register_login_me_logout(client: httpx.AsyncClient) -> None:
    alice = await register(client, "alice")
    me = await client.get("/api/v1/me", headers=alice.headers())
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["email"] == alice.email and body["role"] == "owner"
    assert [w["id"] for w in body["workspaces"]] == [alice.workspace_id]

    login = await client.post(
        "/api/v1/auth/login", json={"email": alice.email.upper(), "password": alice.password}
    )
    assert login.status_code == 200
    token = login.json()["access_token"]
    out = await client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert out.status_code == 204
    after = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 401 and after.json()["error"]["code"] == "session_expired"
    # The first session is untouched.
    assert (await client.get("/api/v1/me", headers=alice.headers())).status_code == 200


async def test_wrong_password_and_duplicate_email(client: httpx.AsyncClient) -> None:
    bob = await register(client, "bob")
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": bob.email, "password": "not the password"}
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_credentials"
    again = await client.post(
        "/api/v1/auth/register",
        json={"email": bob.email, "password": "another long one", "display_name": "B"},
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "email_taken"


async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient) -> None:
    carol = await register(client, "carol")
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": carol.refresh_token})
    assert first.status_code == 200
    rotated = first.json()
    reused = await client.post("/api/v1/auth/refresh", json={"refresh_token": carol.refresh_token})
    assert reused.status_code == 401 and reused.json()["error"]["code"] == "token_reused"
    # The whole family is revoked: the rotated refresh token and the session are dead too.
    dead = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert dead.status_code == 401
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert me.status_code == 401


async def test_members_and_invitations(client: httpx.AsyncClient) -> None:
    owner = await register(client, "owner")
    member = await register(client, "member")
    await join(client, owner, member, "editor")
    seen = await client.get(
        f"/api/v1/workspaces/{owner.workspace_id}", headers=member.headers(owner.workspace_id)
    )
    assert seen.status_code == 200 and seen.json()["role"] == "editor"


async def test_api_key_shown_once_works_and_dies_when_deleted(client: httpx.AsyncClient) -> None:
    dana = await register(client, "dana")
    created = await client.post(
        "/api/v1/api-keys", json={"name": "ci", "role": "viewer"}, headers=dana.headers()
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    listed = await client.get("/api/v1/api-keys", headers=dana.headers())
    assert "key" not in listed.json()[0] and key not in listed.text
    me = await client.get("/api/v1/me", headers={"X-API-Key": key})
    assert me.status_code == 200 and me.json()["role"] == "viewer"
    assert me.json()["workspace_id"] == dana.workspace_id
    deleted = await client.delete(
        f"/api/v1/api-keys/{created.json()['id']}", headers=dana.headers()
    )
    assert deleted.status_code == 204
    refused = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"


async def test_forbidden_fields_are_422_and_change_nothing(client: httpx.AsyncClient) -> None:
    erin = await register(client, "erin")
    for path, body in (
        ("/api/v1/workspaces", {"name": "x", "owner_id": erin.workspace_id}),
        ("/api/v1/workspaces", {"name": "x", "workspace_id": erin.workspace_id}),
        ("/api/v1/api-keys", {"name": "k", "role": "viewer", "workspace_id": "x"}),
        ("/api/v1/api-keys", {"name": "k", "role": "owner"}),
    ):
        response = await client.post(path, json=body, headers=erin.headers())
        assert response.status_code == 422, (path, body, response.text)
    workspaces = await client.get("/api/v1/workspaces", headers=erin.headers())
    assert len(workspaces.json()) == 1
    keys = await client.get("/api/v1/api-keys", headers=erin.headers())
    assert keys.json() == []


async def test_audit_records_mutations_and_denials(client: httpx.AsyncClient) -> None:
    frank = await register(client, "frank")
    await client.post("/api/v1/api-keys", json={"name": "k"}, headers=frank.headers())
    viewer = await add_member(client, frank, "viewer")
    denied = await client.post(
        "/api/v1/api-keys", json={"name": "nope"}, headers=viewer.headers(frank.workspace_id)
    )
    assert denied.status_code == 403
    page = await client.get("/api/v1/audit?limit=10", headers=frank.headers())
    assert page.status_code == 200, page.text
    actions = [(e["action"], e["outcome"]) for e in page.json()["items"]]
    assert ("POST /api/v1/api-keys", "denied") in actions
    assert ("POST /api/v1/api-keys", "success") in actions
    assert ("POST /api/v1/workspaces/{workspace_id}/members", "success") in actions
    as_viewer = await client.get("/api/v1/audit", headers=viewer.headers(frank.workspace_id))
    assert as_viewer.status_code == 403


async def test_the_request_past_the_plans_limit_gets_429(client: httpx.AsyncClient) -> None:
    gina = await register(client, "gina")  # a free plan: 60 requests a minute
    for n in range(60):
        response = await client.get("/api/v1/me", headers=gina.headers())
        assert response.status_code == 200, (n, response.text)
        assert response.headers["x-ratelimit-limit"] == "60"
        assert response.headers["x-ratelimit-remaining"] == str(59 - n)
    refused = await client.get("/api/v1/me", headers=gina.headers())
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining"] == "0"


async def test_the_sixth_wrong_password_is_refused_unchecked(client: httpx.AsyncClient) -> None:
    hank = await register(client, "hank")
    for _ in range(5):
        wrong = await client.post(
            "/api/v1/auth/login", json={"email": hank.email, "password": "wrong password!"}
        )
        assert wrong.status_code == 401
    # Even the right password is not looked at now.
    sixth = await client.post(
        "/api/v1/auth/login", json={"email": hank.email, "password": hank.password}
    )
    assert sixth.status_code == 429, sixth.text
    assert sixth.json()["error"]["code"] == "login_throttled"
    assert int(sixth.headers["retry-after"]) >= 1


async def test_no_secret_reaches_a_log_line_a_response_or_the_openapi_document(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ivy = await register(client, "ivy")
    bodies: list[str] = []
    login = await client.post(
        "/api/v1/auth/login", json={"email": ivy.email, "password": ivy.password}
    )
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
    )
    created = await client.post("/api/v1/api-keys", json={"name": "k"}, headers=ivy.headers())
    key = created.json()["key"]
    for response in (
        await client.get("/api/v1/me", headers=ivy.headers()),
        await client.get("/api/v1/me", headers={"X-API-Key": key}),
        await client.get("/api/v1/api-keys", headers=ivy.headers()),
        await client.get("/api/v1/audit", headers=ivy.headers()),
        await client.get("/api/v1/workspaces", headers=ivy.headers()),
        await client.post("/api/v1/auth/login", json={"email": ivy.email, "password": "nope-x"}),
    ):
        bodies.append(response.text)
    secrets_used = [
        ivy.password,
        ivy.access_token,
        ivy.refresh_token,
        login.json()["refresh_token"],
        refreshed.json()["access_token"],
        key,
    ]
    logged = caplog.text
    for secret in secrets_used:
        assert secret not in logged
        assert all(secret not in body for body in bodies)
    assert "$argon2" not in logged and all("$argon2" not in body for body in bodies)
    openapi = (await client.get("/openapi.json")).text
    assert "eyJ" not in openapi and "rg_" not in openapi and "$argon2" not in openapi


async def test_bad_access_tokens_get_401_at_the_door(client: httpx.AsyncClient) -> None:
    """The gateway refuses what the signer refuses (every case is in test_credentials)."""
    jack = await register(client, "jack")
    claims = jwt.decode(jack.access_token, options={"verify_signature": False})
    key = os.environ["RIVERGEN_AUTH__JWT_PRIVATE_KEY"]
    now = int(time.time())
    forged = {
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "expired": jwt.encode(
            {**claims, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600},
            key,
            "EdDSA",
            headers={"typ": "at+jwt"},
        ),
        "not yet valid": jwt.encode(
            {**claims, "nbf": now + 3600}, key, "EdDSA", headers={"typ": "at+jwt"}
        ),
        "wrong audience": jwt.encode(
            {**claims, "aud": "someone-else"}, key, "EdDSA", headers={"typ": "at+jwt"}
        ),
        "tampered": jack.access_token[:-12] + ("A" * 12),
        "garbage": "not-a-token",
    }
    for case, token in forged.items():
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, case
        assert response.json()["error"]["code"] in {"invalid_token", "token_expired"}, case


async def test_billing_views_of_a_new_workspace(client: httpx.AsyncClient) -> None:
    kim = await register(client, "kim")
    plan = await client.get("/api/v1/billing/plan", headers=kim.headers())
    assert plan.status_code == 200, plan.text
    assert plan.json()["name"] == "free"
    assert plan.json()["quotas"]["requests_per_minute"] == 60
    usage = await client.get("/api/v1/billing/usage", headers=kim.headers())
    assert usage.status_code == 200 and usage.json()["plan"] == "free"
    assert all(m["used"] in ("0", 0) for m in usage.json()["metrics"])
    invoices = await client.get("/api/v1/billing/invoices", headers=kim.headers())
    assert invoices.status_code == 200 and invoices.json() == []
