"""Compute jobs when their processes die: a worker killed mid-job, and the job supervisor (the
detached actor that owns every job) killed while jobs run.

Each job must end in the right state exactly once, as its user sees it: the states read
through the API never leave a terminal state nor go back once there; one terminal event per
job; each attempt's compute seconds billed once (the usage events add up to the job's
``compute_seconds``), and the result is whole.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import ray

from compute.jobs import job_supervisor
from rivergen.api import accounts, health, jobs
from rivergen.db import Database
from rivergen.settings import Settings
from tests.chaos.conftest import eventually
from tests.integration.api_client import Account, register
from tests.integration.ray_cluster import ray_local
from tests.platform_app import create_app

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.usefixtures("ray_local")]
__all__ = ["ray_local"]

FINISHED = {"succeeded", "failed", "cancelled"}
TERMINAL_EVENTS = {"job.completed", "job.failed", "job.cancelled"}


@pytest.fixture(scope="module")
def job_settings(migrated: Settings) -> Settings:
    gateway = migrated.gateway.model_copy(update={"rate_limit": False})
    jobs_ = migrated.jobs.model_copy(
        update={"test_kinds": True, "heartbeat_interval_s": 0.5, "progress_interval_s": 0.3}
    )
    return migrated.model_copy(update={"gateway": gateway, "jobs": jobs_})


@pytest.fixture(scope="module")
async def client(job_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(job_settings, routers=(health.router, accounts.router, jobs.router))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", timeout=30
        ) as http:
            yield http


class Watcher:
    """Polls jobs through the API as their user would, keeping every state seen."""

    def __init__(self, client: httpx.AsyncClient, owner: Account) -> None:
        self.client, self.owner = client, owner
        self.seen: dict[str, list[str]] = {}
        self.last: dict[str, dict[str, Any]] = {}

    async def poll(self) -> None:
        for job in list(self.seen):
            got = await self.client.get(f"/api/v1/jobs/{job}", headers=self.owner.headers())
            assert got.status_code == 200, got.text
            body = got.json()
            self.last[job] = body
            if not self.seen[job] or self.seen[job][-1] != body["state"]:
                self.seen[job].append(body["state"])

    async def submit(self, params: dict[str, Any], key: str | None = None) -> str:
        headers = {**self.owner.headers(), **({"Idempotency-Key": key} if key else {})}
        body = {"kind": "sleep", "params": params}
        made = await self.client.post("/api/v1/jobs", json=body, headers=headers)
        assert made.status_code == 202, made.text
        if key:  # the client's retry of a submission it is unsure of: the same job, not another
            again = await self.client.post("/api/v1/jobs", json=body, headers=headers)
            assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
            assert again.json()["job_id"] == made.json()["job_id"]
        job: str = made.json()["job_id"]
        self.seen[job] = []
        return job

    async def until(self, what: str, check: Any, timeout_s: float) -> None:
        async def polled() -> bool:
            await self.poll()
            return bool(check())

        await eventually(what, polled, timeout_s, every_s=0.1)

    def all_finished(self) -> bool:
        return all(b["state"] in FINISHED for b in self.last.values())


async def job_events(db: Database, job: str) -> list[dict[str, Any]]:
    async with db.transaction() as conn:
        rows = await conn.fetch(
            "SELECT payload->>'type' AS type, payload->'data' AS data FROM event_outbox"
            " WHERE payload->'data'->>'job_id' = $1 ORDER BY id",
            job,
        )
    return [{"type": r["type"], "data": json.loads(r["data"])} for r in rows]


def assert_ended_once(watcher: Watcher, job: str, events: list[dict[str, Any]]) -> None:
    states = watcher.seen[job]
    final = watcher.last[job]
    assert final["state"] == "succeeded", final
    # As the user saw it: forward only, and nothing after the end.
    order = {"queued": 0, "running": 1, "succeeded": 2}
    assert all(s in order for s in states), states
    assert states == sorted(states, key=order.__getitem__), states
    terminal = [e for e in events if e["type"] in TERMINAL_EVENTS]
    assert [e["type"] for e in terminal] == ["job.completed"], events


@pytest.mark.timeout(60, func_only=True)
async def test_a_killed_worker_and_a_killed_supervisor_end_each_job_once(
    client: httpx.AsyncClient, job_settings: Settings, db: Database, tmp_path: Path
) -> None:
    started = time.monotonic()
    owner = await register(client, "chaos-jobs")
    async with db.transaction() as conn:  # three jobs at once: more than the free plan's one
        await conn.execute(
            "UPDATE organizations SET plan = 'standard' WHERE id = "
            "(SELECT organization_id FROM workspaces WHERE id = $1::uuid)",
            owner.workspace_id,
        )
    watcher = Watcher(client, owner)
    try:
        await _kill_worker_then_supervisor(watcher, job_settings, db, tmp_path, started)
    finally:  # a failed run leaves no job for the next run's supervisor to resume
        for job in watcher.seen:
            await client.post(f"/api/v1/jobs/{job}/cancel", headers=owner.headers())


async def _kill_worker_then_supervisor(
    watcher: Watcher, job_settings: Settings, db: Database, tmp_path: Path, started: float
) -> None:
    client, owner = watcher.client, watcher.owner
    # A: its worker is killed; B and C: their supervisor is killed while they run.
    a = await watcher.submit({"seconds": 2, "steps": 4, "pid_dir": str(tmp_path)})
    b = await watcher.submit({"seconds": 3, "steps": 6}, key=f"b-{tmp_path.name}")
    c = await watcher.submit({"seconds": 3, "steps": 6})
    pid_file = tmp_path / "pid"
    await watcher.until("A's first task", pid_file.exists, 30)
    os.kill(int(pid_file.read_text()), signal.SIGKILL)

    def under_way() -> bool:
        return all(
            watcher.last[j]["state"] == "running" and watcher.last[j]["progress"] > 0
            for j in (b, c)
        )

    await watcher.until("B and C under way", under_way, 30)
    supervisor = job_supervisor(job_settings)
    owned = set(ray.get(supervisor.owned.remote()))
    assert {b, c} <= owned
    ray.kill(supervisor, no_restart=False)
    await watcher.until("every job ended", watcher.all_finished, 45)
    await asyncio.sleep(1.0)  # a second ending (a stale attempt finishing late) shows now
    await watcher.poll()

    for job in (a, b, c):
        events = await job_events(db, job)
        assert_ended_once(watcher, job, events)
        usage = [e for e in events if e["type"] == "usage.compute.used"]
        billed = sum(Decimal(str(e["data"]["seconds"])) for e in usage)
        # Every recorded attempt billed once: the usage adds up to what the job shows.
        assert abs(billed - Decimal(str(watcher.last[job]["compute_seconds"]))) < Decimal("0.01"), (
            job,
            usage,
            watcher.last[job]["compute_seconds"],
        )
        rows = await client.get(f"/api/v1/jobs/{job}/result", headers=owner.headers())
        assert rows.status_code == 200, rows.text
        steps = 4 if job == a else 6
        assert [r["step"] for r in rows.json()["rows"]] == list(range(steps))
    # A lost an attempt to its worker (and one more if it still ran when the supervisor died).
    assert watcher.last[a]["attempts"] in (2, 3)
    assert all(watcher.last[j]["attempts"] == 2 for j in (b, c))
    listed = await client.get("/api/v1/jobs?limit=50", headers=owner.headers())
    assert sorted(j["id"] for j in listed.json()["items"]) == sorted((a, b, c))
    print(
        "worker kill and supervisor kill: 3 jobs succeeded once each (states "
        f"{ {j[:8]: watcher.seen[j] for j in (a, b, c)} }), "
        f"{time.monotonic() - started:.1f} s"
    )
