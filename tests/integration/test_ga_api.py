"""The Governance agent through the gateway app on the real services (Postgres, S3, the outbox,
Ray): a scan finds a customer table's sensitive columns, tags them, alerts and proposes masks;
an admin's approval creates the policy and viewers then see the column masked; a second scan
does not repeat the proposals; another workspace's dataset and proposals do not exist."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from faker import Faker
from stdnum import luhn

from rivergen.db import Database
from rivergen.settings import Settings
from tests.integration.api_client import Account, new_team, register
from tests.integration.ray_cluster import ray_local
from tests.integration.test_datasets_api import create, put_file
from tests.platform_app import create_app

pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]

SENSITIVE = {
    "email": "email",
    "phone": "phone",
    "card": "card_number",
    "iban": "iban",
    "ssn": "national_id",
    "street": "street_address",
}


def customers_csv(rows: int = 120, seed: int = 7) -> bytes:
    """Customers with six sensitive columns and four that are not."""
    fake, rng = Faker("en_US"), random.Random(seed)
    fake.seed_instance(seed)
    gb = Faker("en_GB")
    gb.seed_instance(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["id", "name", "email", "phone", "card", "iban", "ssn", "street", "city", "balance"]
    )
    for i in range(rows):
        card = f"4{rng.randint(0, 10**14 - 1):014d}"
        phone = f"+1 415 {rng.randint(200, 999)} {rng.randint(0, 9999):04d}"
        writer.writerow(
            [
                i,
                fake.name(),
                fake.email(),
                phone,
                card + luhn.calc_check_digit(card),
                gb.iban(),
                fake.ssn(),
                fake.street_address(),
                fake.city(),
                f"{rng.uniform(0, 5000):.2f}",
            ]
        )
    return out.getvalue().encode()


@pytest.fixture
async def client(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    app = create_app(migrated.model_copy(update={"gateway": gateway}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw", timeout=60) as c:
            yield c


async def customers(client: httpx.AsyncClient, owner: Account) -> str:
    file_id = await put_file(client, owner, "customers.csv", customers_csv())
    made = await create(client, owner, "customers", file_id)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def alerts(db: Database, workspace: str) -> list[dict[str, Any]]:
    async with db.transaction() as conn:
        rows = await conn.fetch(
            "SELECT payload FROM event_outbox WHERE topic = 'governance.alerts' "
            "AND payload->>'workspace_id' = $1 ORDER BY id",
            workspace,
        )
    return [json.loads(r["payload"]) for r in rows]


async def test_scan_tags_alerts_proposes_and_an_approval_masks(
    client: httpx.AsyncClient, db: Database
) -> None:
    people = await new_team(client)
    owner, admin, editor, viewer = (people[r] for r in ("owner", "admin", "editor", "viewer"))
    dataset = await customers(client, owner)

    refused = await client.post(
        "/api/v1/governance/scan", json={"dataset_id": dataset}, headers=viewer.headers()
    )
    assert refused.status_code == 403
    scanned = await client.post(
        "/api/v1/governance/scan",
        json={"dataset_id": dataset, "sample_size": 100},
        headers=editor.headers(),
    )
    assert scanned.status_code == 200, scanned.text
    report = scanned.json()
    assert report["sampled_rows"] == 100 and report["alerted"]
    found = {c["column"]: c["kind"] for c in report["columns"]}
    assert found == SENSITIVE
    assert all(c["exposed_to"] == ["editor", "viewer"] for c in report["columns"])
    assert {p["column"] for p in report["proposals"]} == set(SENSITIVE)
    # Kinds and shares only: no value leaves the scan.
    assert set(report["columns"][0]) == {
        "column",
        "kind",
        "matched",
        "sampled",
        "score",
        "exposed_to",
    }

    # The tags are on the dataset's columns.
    described = await client.get(f"/api/v1/datasets/{dataset}", headers=viewer.headers())
    tags = {c["name"]: c["tags"] for c in described.json()["columns"]}
    assert tags["card"] == ["pii:card_number", "sensitive"]
    assert tags["city"] == [] and tags["name"] == []

    # One alert, shown to people, naming the columns.
    [alert] = await alerts(db, owner.workspace_id)
    assert alert["type"] == "governance.alert"
    assert {c["column"] for c in alert["data"]["columns"]} == set(SENSITIVE)

    listed = await client.get(
        "/api/v1/governance/proposals", params={"state": "pending"}, headers=viewer.headers()
    )
    assert listed.status_code == 200
    by_column = {p["column"]: p for p in listed.json()["items"]}
    assert set(by_column) == set(SENSITIVE)
    card = by_column["card"]
    assert card["policy"]["rule"] == {"type": "mask", "columns": ["card"], "method": "partial"}

    # Approving is an admin's write: an editor cannot.
    url = f"/api/v1/governance/proposals/{card['id']}"
    assert (await client.post(f"{url}/approve", headers=editor.headers())).status_code == 403
    approved = await client.post(f"{url}/approve", json={"reason": "PCI"}, headers=admin.headers())
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved" and approved.json()["reason"] == "PCI"
    policy = await client.get(
        f"/api/v1/policies/{approved.json()['policy_id']}", headers=viewer.headers()
    )
    assert policy.status_code == 200 and policy.json()["roles"] == ["editor", "viewer"]
    again = await client.post(f"{url}/approve", headers=admin.headers())
    assert again.status_code == 409 and again.json()["error"]["code"] == "proposal_decided"

    # Viewers now see the card column masked (numbers: nulls), admins raw.
    seen = await client.get(f"/api/v1/datasets/{dataset}/preview", headers=viewer.headers())
    cards = [row["card"] for row in seen.json()["rows"]]
    assert cards and all(c is None or str(c).startswith("*") for c in cards), cards[:3]
    raw = await client.get(f"/api/v1/datasets/{dataset}/preview", headers=admin.headers())
    assert all(luhn.is_valid(str(row["card"])) for row in raw.json()["rows"])

    rejected = await client.post(
        f"/api/v1/governance/proposals/{by_column['street']['id']}/reject", headers=admin.headers()
    )
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"

    # A second scan: the card is masked now; the pending proposals are not repeated, nor the
    # one an admin rejected; the columns still unmasked raise a second alert.
    second = await client.post(
        "/api/v1/governance/scan", json={"dataset_id": dataset}, headers=editor.headers()
    )
    report = second.json()
    exposed = {c["column"]: c["exposed_to"] for c in report["columns"]}
    assert exposed["card"] == []
    assert report["proposals"] == [] and report["alerted"]
    assert len(await alerts(db, owner.workspace_id)) == 2


async def test_another_workspace_cannot_scan_or_decide(client: httpx.AsyncClient) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    dataset = await customers(client, bob)
    scanned = await client.post(
        "/api/v1/governance/scan", json={"dataset_id": dataset}, headers=bob.headers()
    )
    proposal = scanned.json()["proposals"][0]["id"]
    theirs = await client.post(
        "/api/v1/governance/scan", json={"dataset_id": dataset}, headers=alice.headers()
    )
    assert theirs.status_code == 404
    assert theirs.json()["error"]["code"] == "dataset_not_found"
    for action in ("approve", "reject"):
        decided = await client.post(
            f"/api/v1/governance/proposals/{proposal}/{action}", headers=alice.headers()
        )
        assert decided.status_code == 404
        assert decided.json()["error"]["code"] == "proposal_not_found"
    listed = await client.get("/api/v1/governance/proposals", headers=alice.headers())
    assert listed.json()["items"] == []
