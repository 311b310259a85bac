"""Generated from the app's own routes and the authorization table, so a new route is covered
(or the test says what it lacks) without anyone remembering to add it."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from rivergen.acl import ROUTE_ACCESS, WORKSPACE_ROLES
from rivergen.agents.governance_agent import store as ga_store
from rivergen.agents.prompt_studio import store as prompt_store
from rivergen.agents.prompt_studio.schemas import PendingCall
from rivergen.db import Database
from rivergen.services.governance import PolicyCreate
from rivergen.services.governance.schemas import MaskRule
from rivergen.settings import Settings
from tests.integration.api_client import Account, invite, join, new_team, register
from tests.integration.ray_cluster import ray_local
from tests.integration.test_models_api import new_model, new_model_dataset, train_body
from tests.platform_app import create_app

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
# Dataset routes stage files as Ray tasks.
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]


@pytest.fixture
async def app(migrated: Settings) -> AsyncIterator[FastAPI]:
    # The role matrix sends more than the free plan's requests a minute; test_ratelimit covers
    # the limit.
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    # Jobs that stay running until cancelled: the test kind `sleep`.
    jobs = migrated.jobs.model_copy(update={"test_kinds": True})
    application = create_app(migrated.model_copy(update={"gateway": gateway, "jobs": jobs}))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every API route, from the app's own OpenAPI document."""
    return sorted(
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    )


def test_every_route_is_in_the_authorization_table(app: FastAPI) -> None:
    routes = set(api_routes(app))
    assert routes == set(ROUTE_ACCESS), routes ^ set(ROUTE_ACCESS)


async def open_upload(
    client: httpx.AsyncClient, owner: Account, data: bytes = b"probe", name: str = "p"
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/storage/uploads",
        json={"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
        headers=owner.headers(),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def sent_upload(
    client: httpx.AsyncClient, owner: Account, data: bytes = b"probe", name: str = "p"
) -> tuple[str, str]:
    """An upload whose one part is stored: (upload id, the part's ETag)."""
    started = await open_upload(client, owner, data, name)
    async with httpx.AsyncClient() as plain:
        put = await plain.put(started["parts"][0]["url"], content=data)
    assert put.status_code == 200
    return started["upload_id"], put.headers["etag"]


async def new_file(
    client: httpx.AsyncClient, owner: Account, data: bytes = b"probe", name: str = "p"
) -> str:
    upload_id, etag = await sent_upload(client, owner, data, name)
    done = await client.post(
        f"/api/v1/storage/uploads/{upload_id}/complete",
        json={"parts": [{"part_number": 1, "etag": etag}]},
        headers=owner.headers(),
    )
    assert done.status_code == 201, done.text
    return str(done.json()["id"])


async def new_data_source(client: httpx.AsyncClient, owner: Account, bucket: str | None) -> str:
    """A source that discovers with no allow-list: the workspace's own files in the platform's
    bucket, read as CSV (upload one first)."""
    config = {
        "kind": "s3",
        "bucket": bucket,
        "format": "csv",
        "prefix": f"workspaces/{owner.workspace_id}/files/",
    }
    response = await client.post(
        "/api/v1/data-sources",
        json={"name": f"probe-{uuid.uuid4().hex[:8]}", "config": config},
        headers=owner.headers(),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def new_csv_file(client: httpx.AsyncClient, owner: Account) -> str:
    PREPARED["csv_file"] = await new_file(client, owner, b"a,b\n1,2\n", "probe.csv")
    return PREPARED["csv_file"]


async def new_dataset(client: httpx.AsyncClient, owner: Account) -> str:
    response = await client.post(
        "/api/v1/datasets",
        json={"name": f"d-{uuid.uuid4().hex[:8]}", "file_id": await new_csv_file(client, owner)},
        headers=owner.headers(),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def new_job(client: httpx.AsyncClient, owner: Account, seconds: float = 10) -> str:
    """A job that runs until cancelled (or ``seconds``)."""
    response = await client.post(
        "/api/v1/jobs",
        json={"kind": "sleep", "params": {"seconds": seconds, "steps": max(1, int(seconds))}},
        headers=owner.headers(),
    )
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


async def new_execution(client: httpx.AsyncClient, owner: Account) -> str:
    response = await client.post(
        "/api/v1/prompts/execute", json={"question": "describe probes"}, headers=owner.headers()
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def new_pending_execution(client: httpx.AsyncClient, owner: Account, db: Database) -> str:
    """An execution waiting for the confirmation of a dataset's deletion (an editor's)."""
    dataset = await new_dataset(client, owner)
    execution = uuid.uuid4()
    pending = PendingCall(
        call_id="call_probe",
        tool="delete_dataset",
        arguments={"dataset": dataset},
        needs="editor",
        summary="delete it",
    )
    async with db.transaction(owner.workspace_id) as conn:
        await prompt_store.insert_execution(
            conn, execution, uuid.UUID(owner.workspace_id), "delete it", "probe"
        )
        await prompt_store.finish(
            conn,
            execution,
            status="awaiting_confirmation",
            turns=[],
            steps=[],
            pending=[pending.model_dump()],
            answer=None,
            explanation=None,
            provider=None,
            error=None,
        )
    return str(execution)


async def new_saved_prompt(client: httpx.AsyncClient, owner: Account) -> str:
    response = await client.post(
        "/api/v1/prompts/saved", json={"question": "describe probes"}, headers=owner.headers()
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def new_policy(client: httpx.AsyncClient, owner: Account) -> str:
    """A workspace-wide policy, disabled (it governs nothing)."""
    response = await client.post(
        "/api/v1/policies", json=BODIES[("POST", "/api/v1/policies")](), headers=owner.headers()
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def new_api_key(client: httpx.AsyncClient, owner: Account) -> str:
    response = await client.post(
        "/api/v1/api-keys", json={"name": "probe", "role": "viewer"}, headers=owner.headers()
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def new_guideline(client: httpx.AsyncClient, owner: Account) -> str:
    response = await client.post(
        "/api/v1/decisions/guidelines",
        json=BODIES[("POST", "/api/v1/decisions/guidelines")](),
        headers=owner.headers(),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def new_decision(client: httpx.AsyncClient, owner: Account) -> str:
    """A decision of a model no one serves here (scored by the baseline)."""
    response = await client.post(
        "/api/v1/decisions/analyze",
        json=BODIES[("POST", "/api/v1/decisions/analyze")](),
        headers=owner.headers(),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def new_simulation(client: httpx.AsyncClient, owner: Account) -> str:
    response = await client.post(
        "/api/v1/decisions/simulate",
        json={"model_id": str(uuid.uuid4()), "dataset_id": await new_dataset(client, owner)},
        headers=owner.headers(),
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def new_proposal(client: httpx.AsyncClient, owner: Account, db: Database) -> str:
    """A pending masking proposal of the Governance agent on a new dataset's column ``a``."""
    dataset = await new_dataset(client, owner)
    proposal = uuid.uuid4()
    policy = PolicyCreate(
        name="mask a",
        dataset_id=uuid.UUID(dataset),
        rule=MaskRule(columns=["a"]),
        roles=["viewer"],
    )
    async with db.transaction(owner.workspace_id) as conn:
        await ga_store.insert_proposal(
            conn,
            proposal,
            uuid.UUID(owner.workspace_id),
            uuid.UUID(dataset),
            "a",
            "email",
            policy.model_dump(mode="json"),
            "probe",
        )
    return str(proposal)


async def new_cancelled_job(client: httpx.AsyncClient, owner: Account) -> str:
    """A job cancelled (what an operator may retry)."""
    job = await new_job(client, owner)
    await client.post(f"/api/v1/jobs/{job}/cancel", headers=owner.headers())
    for _ in range(200):
        got = await client.get(f"/api/v1/jobs/{job}", headers=owner.headers())
        if got.json()["state"] == "cancelled":
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job} was not cancelled: {got.json()}")


# Routes whose ids must name an object in a particular state.
RETRY = ("POST", "/api/v1/jobs/{job_id}/retry")
# Routes that change the team itself (who is in it, who owns it): one role's probe would
# change the roles of the next. test_invitations_and_members covers them, refusals included.
TEAM_CHANGES = {
    ("PATCH", "/api/v1/workspaces/{workspace_id}/members/{user_id}"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/members/{user_id}"),
    ("POST", "/api/v1/workspaces/{workspace_id}/leave"),
    ("POST", "/api/v1/workspaces/{workspace_id}/transfer-ownership"),
}


# A valid body for each route that takes one: the test fails for a new route until it has one.
COMPLETE = ("POST", "/api/v1/storage/uploads/{upload_id}/complete")
PART = ("PUT", "/api/v1/storage/parts/{store_upload_id}/{part_number}")
# The ETag of the part each prepared upload holds, for the completion body.
ETAGS: dict[str, str] = {}
# Objects made for the bodies: "csv_file", a CSV file of the workspace the requests go to;
# "dataset", a dataset of it.
PREPARED: dict[str, str] = {}
FORM_UPLOAD = ("POST", "/api/v1/storage/upload")
BODIES: dict[tuple[str, str], Callable[[], Any]] = {
    ("POST", "/api/v1/storage/uploads"): lambda: {
        "name": "n",
        "size": 5,
        "sha256": hashlib.sha256(b"probe").hexdigest(),
    },
    PART: lambda: b"probe",
    ("POST", "/api/v1/workspaces/{workspace_id}/members"): lambda: {
        "email": f"m-{uuid.uuid4().hex[:8]}@example.com",
        "role": "viewer",
    },
    ("POST", "/api/v1/api-keys"): lambda: {"name": "k", "role": "viewer"},
    ("PATCH", "/api/v1/workspaces/{workspace_id}/members/{user_id}"): lambda: {"role": "viewer"},
    ("POST", "/api/v1/workspaces/{workspace_id}/transfer-ownership"): lambda: {
        "user_id": PREPARED["member"]
    },
    ("POST", "/api/v1/workspaces"): lambda: {"name": "w"},
    ("POST", "/api/v1/datasets"): lambda: {
        "name": f"d-{uuid.uuid4().hex[:8]}",
        "file_id": PREPARED["csv_file"],
    },
    ("POST", "/api/v1/datasets/{dataset_id}/versions"): lambda: {"file_id": PREPARED["csv_file"]},
    ("PATCH", "/api/v1/datasets/{dataset_id}"): lambda: {"description": "probed"},
    ("POST", "/api/v1/datasets/{dataset_id}/quality"): lambda: {
        "rules": [{"kind": "not_null", "column": "a"}]
    },
    ("POST", "/api/v1/jobs"): lambda: {"kind": "sleep", "params": {"seconds": 0.1, "steps": 1}},
    ("POST", "/api/v1/prompts/execute"): lambda: {"question": "which datasets mention probes"},
    ("POST", "/api/v1/prompts/saved"): lambda: {"question": "which datasets mention probes"},
    ("POST", "/api/v1/policies"): lambda: {
        "name": f"p-{uuid.uuid4().hex[:8]}",
        "enabled": False,
        "rule": {"type": "access"},
    },
    ("PATCH", "/api/v1/policies/{policy_id}"): lambda: {"description": "probed"},
    ("POST", "/api/v1/policies/evaluate"): lambda: {"dataset_id": PREPARED["dataset"]},
    ("POST", "/api/v1/models/{model_id}/monitoring"): lambda: {
        "dataset_id": PREPARED["model_dataset"]
    },
    ("POST", "/api/v1/data-sources"): lambda: {
        "name": f"s-{uuid.uuid4().hex[:8]}",
        "config": {"kind": "http_csv", "url": "https://example.com/products.csv"},
    },
    ("POST", "/api/v1/decisions/analyze"): lambda: {
        "model_id": str(uuid.uuid4()),
        "features": {"amount": 120.0},
    },
    ("POST", "/api/v1/decisions/simulate"): lambda: {
        "model_id": str(uuid.uuid4()),
        "dataset_id": PREPARED["dataset"],
    },
    ("POST", "/api/v1/decisions/guidelines"): lambda: {
        "name": f"g-{uuid.uuid4().hex[:8]}",
        "limits": [{"name": "big", "when": {"feature": "amount", "op": "gt", "value": 10000}}],
    },
    ("POST", "/api/v1/governance/scan"): lambda: {"dataset_id": PREPARED["dataset"]},
    ("PUT", "/api/v1/semantic-layer"): lambda: {"datasets": [], "measures": []},
    ("POST", "/api/v1/models"): lambda: train_body(PREPARED["model_dataset"]),
    ("POST", "/api/v1/models/{model_id}/deploy"): lambda: {},
    ("POST", "/api/v1/models/{model_id}/predict"): lambda: {"rows": [{"x": 1, "kind": "a"}]},
}


async def test_another_workspaces_objects_do_not_exist(
    app: FastAPI, client: httpx.AsyncClient, migrated: Settings, db: Database
) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    bob_key = await new_api_key(client, bob)
    bob_upload = await open_upload(client, bob)
    bob_file = await new_file(client, bob)
    bob_source = await new_data_source(client, bob, migrated.s3.bucket)
    bob_dataset = await new_dataset(client, bob)
    # Trained before the job below: the free plan runs one job at a time.
    PREPARED["model_dataset"] = await new_model_dataset(client, bob)
    bob_model = await new_model(client, bob, PREPARED["model_dataset"], deploy=False)
    bob_job = await new_job(client, bob, seconds=1)
    bob_execution = await new_execution(client, bob)
    bob_saved = await new_saved_prompt(client, bob)
    bob_policy = await new_policy(client, bob)
    bob_guideline = await new_guideline(client, bob)
    bob_decision = await new_decision(client, bob)
    bob_simulation = await new_simulation(client, bob)
    bob_proposal = await new_proposal(client, bob, db)
    await new_csv_file(client, alice)
    objects = {
        "workspace_id": bob.workspace_id,
        "api_key_id": bob_key,
        "upload_id": bob_upload["upload_id"],
        "file_id": bob_file,
        "store_upload_id": bob_upload["upload_id"],
        "part_number": "1",
        "source_id": bob_source,
        "dataset_id": bob_dataset,
        "job_id": bob_job,
        "policy_id": bob_policy,
        "model_id": bob_model,
        "version": "1",
        "execution_id": bob_execution,
        "saved_id": bob_saved,
        "guideline_id": bob_guideline,
        "decision_id": bob_decision,
        "simulation_id": bob_simulation,
        "proposal_id": bob_proposal,
    }
    # Bob's personal workspace has a second member (Carol); an invitation of Bob's to Alice is
    # hers to answer, so another of Bob's to Carol stands for "another person's invitation".
    carol = await register(client, "carol")
    await join(client, bob, carol, "viewer")
    members = await client.get(
        f"/api/v1/workspaces/{bob.workspace_id}/members", headers=bob.headers()
    )
    PREPARED["member"] = next(
        m["user_id"] for m in members.json()["items"] if m["email"] == carol.email
    )
    objects["user_id"] = PREPARED["member"]
    dave = await register(client, "dave")
    objects["invitation_id"] = await invite(client, bob, dave, "viewer")
    execution = await client.get(
        f"/api/v1/prompts/executions/{bob_execution}", headers=bob.headers()
    )
    objects["conversation_id"] = execution.json()["conversation_id"]
    # Operators' routes are refused to everyone else whatever they name (403, tested below).
    with_ids = [
        (m, p) for m, p in api_routes(app) if "{" in p and ROUTE_ACCESS[(m, p)] != "operator"
    ]
    assert with_ids, "no route takes an id"
    for method, path in with_ids:
        params = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        missing = [name for name in params if name not in objects]
        assert not missing, f"{method} {path}: give the test an object for {missing}"
        url = path.format(**objects)
        response = await send(client, method, path, url, alice)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"].endswith("not_found")
    # Nothing of Bob's changed: his key is alive, his workspace has him alone.
    keys = await client.get("/api/v1/api-keys", headers=bob.headers())
    assert [(k["id"], k["revoked_at"]) for k in keys.json()] == [(bob_key, None)]
    workspace = await client.get(f"/api/v1/workspaces/{bob.workspace_id}", headers=bob.headers())
    assert workspace.status_code == 200
    files = await client.get("/api/v1/storage/files", headers=bob.headers())
    assert bob_file in [f["id"] for f in files.json()["items"]]
    source = await client.get(f"/api/v1/data-sources/{bob_source}", headers=bob.headers())
    assert source.status_code == 200
    dataset = await client.get(f"/api/v1/datasets/{bob_dataset}", headers=bob.headers())
    assert dataset.status_code == 200 and dataset.json()["current_version"] == 1
    job = await client.get(f"/api/v1/jobs/{bob_job}", headers=bob.headers())
    assert job.status_code == 200 and not job.json()["cancel_requested"]
    parts = await client.get(
        f"/api/v1/storage/uploads/{bob_upload['upload_id']}/parts", headers=bob.headers()
    )
    assert parts.status_code == 200


async def test_operators_routes_are_refused_to_every_workspace_role(
    app: FastAPI, client: httpx.AsyncClient, team: dict[str, Account]
) -> None:
    """A new account owns its personal workspace: no workspace role, the owner's included,
    reaches the cluster's operations data (test_operations_api: an operator does)."""
    routes = [(m, p) for (m, p), access in ROUTE_ACCESS.items() if access == "operator"]
    assert {p for _, p in routes} >= {
        "/api/v1/operations/cluster",
        "/api/v1/operations/deployments",
    }
    assert all(p.startswith("/api/v1/operations/") for _, p in routes)
    newcomer = await register(client, "newcomer")
    job = await new_job(client, team["owner"], seconds=0.1)
    for method, path in routes:
        url = path.format(job_id=job)
        for who in (newcomer, *team.values()):
            response = await client.request(method, url, headers=who.headers())
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["error"]["code"] == "operator_required"


async def send(
    client: httpx.AsyncClient, method: str, path: str, url: str, who: Account
) -> httpx.Response:
    body = BODIES[(method, path)]() if (method, path) in BODIES else None
    if (method, path) == COMPLETE:
        upload_id = url.split("/")[-2]
        body = {"parts": [{"part_number": 1, "etag": ETAGS.get(upload_id, "x")}]}
    if isinstance(body, bytes):
        return await client.request(method, url, content=body, headers=who.headers())
    if (method, path) == FORM_UPLOAD:
        files = {"file": ("probe.txt", b"probe", "text/plain")}
        return await client.request(method, url, files=files, headers=who.headers())
    return await client.request(method, url, json=body, headers=who.headers())


async def _one() -> str:
    return "1"


@pytest.fixture
async def team(client: httpx.AsyncClient) -> dict[str, Account]:
    """An owner's workspace with one member of every other role."""
    return await new_team(client)


async def path_values(
    ids: dict[str, Callable[[], Awaitable[str]]], owner: Account, method: str, path: str
) -> dict[str, str]:
    """A fresh object for each id the path takes (what one request acts on); the retry route
    takes a job that has ended."""
    values = {"workspace_id": owner.workspace_id}
    for name, make in ids.items():
        if "{" + name + "}" in path:
            values[name] = await (ids["retry_job_id"] if (method, path) == RETRY else make)()
    return values


async def test_role_matrix_follows_the_authorization_table(
    app: FastAPI,
    client: httpx.AsyncClient,
    team: dict[str, Account],
    migrated: Settings,
    db: Database,
) -> None:
    owner = team["owner"]
    # Several jobs run at once here: more than the free plan's one.
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE organizations SET plan = 'premium' WHERE id = "
            "(SELECT organization_id FROM workspaces WHERE id = $1::uuid)",
            owner.workspace_id,
        )
    mutating = {
        route: access
        for route, access in ROUTE_ACCESS.items()
        if route[0] in MUTATING and access in WORKSPACE_ROLES and route not in TEAM_CHANGES
    }
    assert mutating

    async def prepared_upload() -> str:
        upload_id, etag = await sent_upload(client, owner)
        ETAGS[upload_id] = etag
        return upload_id

    ids: dict[str, Callable[[], Awaitable[str]]] = {
        "api_key_id": lambda: new_api_key(client, owner),
        "upload_id": prepared_upload,
        "file_id": lambda: new_file(client, owner),
        "store_upload_id": prepared_upload,
        "part_number": lambda: _one(),
        "source_id": lambda: new_data_source(client, owner, migrated.s3.bucket),
        "dataset_id": lambda: new_dataset(client, owner),
        "job_id": lambda: new_job(client, owner),
        "execution_id": lambda: new_pending_execution(client, owner, db),
        "saved_id": lambda: new_saved_prompt(client, owner),
        "policy_id": lambda: new_policy(client, owner),
        "guideline_id": lambda: new_guideline(client, owner),
        "proposal_id": lambda: new_proposal(client, owner, db),
        "model_id": lambda: trained_model(),
        "retry_job_id": lambda: new_cancelled_job(client, owner),
    }
    await new_file(client, owner)  # what the data sources read
    await new_csv_file(client, owner)
    PREPARED["dataset"] = await new_dataset(client, owner)
    PREPARED["model_dataset"] = await new_model_dataset(client, owner)
    # A semantic layer to confirm (confirming one that is confirmed changes nothing).
    drafted = await client.post("/api/v1/semantic-layer/draft", headers=owner.headers())
    assert drafted.status_code == 200, drafted.text
    models: list[str] = []

    async def trained_model() -> str:  # one trained and deployed model serves every probe
        if not models:
            models.append(await new_model(client, owner, PREPARED["model_dataset"]))
        return models[0]

    outcomes: dict[tuple[str, str, str], int] = {}
    expected: dict[tuple[str, str, str], int] = {}
    for (method, path), access in sorted(mutating.items()):
        for role in ("owner", "admin", "editor", "viewer"):
            values = await path_values(ids, owner, method, path)
            response = await send(client, method, path, path.format(**values), team[role])
            allowed = WORKSPACE_ROLES.index(role) >= WORKSPACE_ROLES.index(access)
            outcomes[(method, path, role)] = response.status_code
            expected[(method, path, role)] = response.status_code if allowed else 403
            if allowed and (method, path) == PART:
                # On S3 the parts go straight to S3: the platform's part endpoint answers 404
                # (test_storage_api covers it with the embedded store).
                assert response.status_code == 404, response.text
            elif allowed:
                assert response.status_code < 300, (method, path, role, response.text)
    assert outcomes == expected
