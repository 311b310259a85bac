"""Seed the demo account through the HTTP API. Safe to run again: what exists is kept."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

DEMO_EMAIL = "demo@rivergen.example"
NORTHWIND = Path(__file__).resolve().parent / "northwind"
DESCRIPTIONS = {
    "customers": "Companies that buy from Northwind Traders, with contacts and addresses.",
    "orders": "Customer orders: dates, shipper, freight and destination.",
    "order-details": "Order lines: product, unit price, quantity and discount.",
    "products": "The catalog: prices, stock and reorder levels by category and supplier.",
    "categories": "Product categories with descriptions.",
    "employees": "Sales staff and their managers.",
    "suppliers": "Companies that supply the products.",
    "shippers": "Shipping companies.",
}


class DemoReport(BaseModel):
    email: str
    password: str
    workspace_id: str
    datasets: dict[str, int]
    rows_kept_aside: dict[str, int]


def _password(secrets_dir: Path) -> str:
    path = secrets_dir / "demo-password"
    if path.exists():
        return path.read_text().strip()
    secrets_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    path.write_text(password)
    path.chmod(0o600)
    return password


def _sign_in(http: httpx.Client, password: str) -> dict[str, Any]:
    body = {"email": DEMO_EMAIL, "password": password, "display_name": "Demo"}
    response = http.post("/api/v1/auth/register", json=body)
    if response.status_code == 409:
        response = http.post("/api/v1/auth/login", json={"email": DEMO_EMAIL, "password": password})
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def _upload(http: httpx.Client, headers: dict[str, str], path: Path) -> str:
    data = path.read_bytes()
    started = http.post(
        "/api/v1/storage/uploads",
        json={
            "name": path.name,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "content_type": "text/csv",
        },
        headers=headers,
    )
    started.raise_for_status()
    body = started.json()
    part = body["parts"][0]
    # The embedded store's part URL is the platform's own (it needs the caller's token); a
    # presigned S3 URL carries its own signature.
    put = http.put(
        part["url"],
        content=data,
        headers=headers if part["url"].startswith(str(http.base_url).rstrip("/")) else {},
    )
    put.raise_for_status()
    done = http.post(
        f"/api/v1/storage/uploads/{body['upload_id']}/complete",
        json={"parts": [{"part_number": 1, "etag": put.headers["etag"]}]},
        headers=headers,
    )
    done.raise_for_status()
    file_id: str = done.json()["id"]
    return file_id


def seed_demo(api_url: str, secrets_dir: Path, say: Callable[[str], Any] = print) -> DemoReport:
    """Sign up (or in) the demo account and import every Northwind table as a profiled
    dataset."""
    password = _password(secrets_dir)
    with httpx.Client(base_url=api_url, timeout=120) as http:
        session = _sign_in(http, password)
        workspace = session["workspace_id"]
        headers = {
            "Authorization": f"Bearer {session['access_token']}",
            "X-Workspace-ID": workspace,
        }
        existing = {
            d["name"]: d
            for d in http.get("/api/v1/datasets", params={"limit": 500}, headers=headers).json()[
                "items"
            ]
        }
        datasets: dict[str, int] = {}
        aside: dict[str, int] = {}
        for path in sorted(NORTHWIND.glob("*.csv")):
            name = path.stem
            if name in existing:
                datasets[name] = existing[name]["row_count"]
                continue
            made = http.post(
                "/api/v1/datasets",
                json={
                    "name": name,
                    "file_id": _upload(http, headers, path),
                    "description": DESCRIPTIONS.get(name, ""),
                    "tags": ["northwind"],
                    "options": {"on_invalid_rows": "skip"},
                },
                headers=headers,
            )
            made.raise_for_status()
            body = made.json()
            http.post(f"/api/v1/datasets/{body['id']}/profile", headers=headers).raise_for_status()
            datasets[name] = body["row_count"]
            kept_aside = body["versions"][0]["invalid_row_count"]
            if kept_aside:
                aside[name] = kept_aside
            say(
                f"  demo: dataset {name}: {body['row_count']} rows, profiled"
                + (
                    f" ({kept_aside} malformed rows kept aside, listed with it)"
                    if kept_aside
                    else ""
                )
            )
    return DemoReport(
        email=DEMO_EMAIL,
        password=password,
        workspace_id=workspace,
        datasets=datasets,
        rows_kept_aside=aside,
    )
