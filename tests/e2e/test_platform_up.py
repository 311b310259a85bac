"""`rivergen up` / `status` / `down`, as the README tells a newcomer to use them."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil
import pytest

from rivergen.db import Database
from rivergen.events import Event, Topic, add_to_outbox, connect_event_bus
from rivergen.settings import Settings
from tests.conftest import SHARED_DATA
from tests.e2e.cluster import RayCluster
from tests.e2e.platform_process import (
    README_RUN,
    RIVERGEN,
    RunningPlatform,
    clean_env,
    platform_up,
)
from tests.integration.socket_clients import connect

DEPENDENCIES = {"postgres", "redis_app", "redis_socket", "events", "object_store", "ray"}
PORT = 28000
DASHBOARD_PORT = 28265
LOAD_BALANCER = "127.0.0.9"  # in front of HAProxy: RIVERGEN_HTTP__UPSTREAM_PROXIES


OPERATOR = "e2e-operator@example.com"  # a platform operator by setting


def assert_all_ready(api_url: str) -> dict[str, object]:
    deadline = time.monotonic() + 20  # the Socket.io replicas subscribe once they have started
    while True:
        response = httpx.get(f"{api_url}/readyz", timeout=10)
        report = response.json()
        if report.get("socket_listeners") == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert response.status_code == 200, report
    assert set(report["dependencies"]) == DEPENDENCIES
    for name, dep in report["dependencies"].items():
        assert dep["ok"], (name, dep)
        assert dep["latency_ms"] >= 0
    # The 4 Socket.io replicas listen on the Redis Socket channel.
    assert report["socket_listeners"] == 4, report
    return dict(report)


def assert_accounts_work(api_url: str) -> tuple[str, str]:
    """Register and sign in through Serve: the gateway reaches Backend Core by handle, and a
    platform error raised there comes back as itself."""
    email = f"e2e-{uuid.uuid4().hex[:10]}@example.com"
    body = {"email": email, "password": "a long enough password", "display_name": "E2E"}
    registered = httpx.post(f"{api_url}/api/v1/auth/register", json=body, timeout=30)
    assert registered.status_code == 201, registered.text
    token = registered.json()["access_token"]
    me = httpx.get(f"{api_url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["email"] == email
    again = httpx.post(f"{api_url}/api/v1/auth/register", json=body, timeout=30)
    assert again.status_code == 409 and again.json()["error"]["code"] == "email_taken"
    return token, registered.json()["workspace_id"]


def assert_storage_works(api_url: str, token: str) -> None:
    """An upload through Storage Orchestration (its own Serve application under
    /api/v1/storage): a direct upload whose part URL is the orchestration's own part endpoint
    (embedded store) or a presigned S3 URL, and a form upload."""
    auth = {"Authorization": f"Bearer {token}"}
    data = b"through storage orchestration"
    started = httpx.post(
        f"{api_url}/api/v1/storage/uploads",
        json={"name": "e2e.txt", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
        headers=auth,
        timeout=30,
    )
    assert started.status_code == 201, started.text
    (target,) = started.json()["parts"]
    own = target["url"].startswith(f"{api_url}/api/v1/storage/parts/")
    put = httpx.put(target["url"], content=data, headers=auth if own else None, timeout=30)
    assert put.status_code == 200, put.text
    done = httpx.post(
        f"{api_url}/api/v1/storage/uploads/{started.json()['upload_id']}/complete",
        json={"parts": [{"part_number": 1, "etag": put.headers["etag"]}]},
        headers=auth,
        timeout=30,
    )
    assert done.status_code == 201, done.text
    form = httpx.post(
        f"{api_url}/api/v1/storage/upload",
        files={"file": ("form.txt", b"a form upload", "text/plain")},
        headers=auth,
        timeout=30,
    )
    assert form.status_code == 201, form.text
    files = httpx.get(f"{api_url}/api/v1/storage/files", headers=auth, timeout=30).json()
    assert {f["name"] for f in files["items"]} == {"e2e.txt", "form.txt"}


def assert_dataset_from_upload(api_url: str, token: str) -> None:
    """Upload a published CSV (one form post), make a dataset of it (staging runs as a Ray task
    started by the gateway's replica) and read its first rows back."""
    headers = {"Authorization": f"Bearer {token}"}
    data = (SHARED_DATA / "northwind" / "products.csv").read_bytes()
    uploaded = httpx.post(
        f"{api_url}/api/v1/storage/upload",
        files={"file": ("products.csv", data, "text/csv")},
        headers=headers,
        timeout=30,
    )
    assert uploaded.status_code == 201, uploaded.text
    made = httpx.post(
        f"{api_url}/api/v1/datasets",
        json={"name": "products", "file_id": uploaded.json()["id"]},
        headers=headers,
        timeout=120,
    )
    assert made.status_code == 201, made.text
    assert made.json()["row_count"] == 77
    preview = httpx.get(
        f"{api_url}/api/v1/datasets/{made.json()['id']}/preview",
        params={"limit": 3},
        headers=headers,
        timeout=60,
    )
    assert preview.status_code == 200 and preview.json()["rows"][0]["productName"] == "Chai"
    # Prompt Studio on Serve: the gateway reaches the agent, the agent the Planning, Execution
    # Support (its SQL as Ray tasks), Governance and Language & Explanation deployments.
    asked = httpx.post(
        f"{api_url}/api/v1/prompts/execute",
        json={"question": "how many products are there"},
        headers=headers,
        timeout=120,
    )
    assert asked.status_code == 200, asked.text
    answer = asked.json()
    assert answer["status"] == "completed", answer
    assert list(answer["table"]["rows"][0].values()) == [77]
    assert answer["explanation"]["datasets"] == ["products"]
    assert_models_on_serve(api_url, headers, made.json()["id"], preview.json()["rows"][0])


def assert_models_on_serve(
    api_url: str, headers: dict[str, str], dataset: str, row: dict[str, object]
) -> None:
    """Model Studio and the Operations agent on Serve: a model trained by a job, deployed and
    answering through the model-studio deployment; Serve's deployments as Serve reports them."""
    accepted = httpx.post(
        f"{api_url}/api/v1/models",
        headers=headers,
        timeout=60,
        json={
            "name": "discontinued",
            "dataset": dataset,
            "target": "discontinued",
            "task": "classification",
        },
    )
    assert accepted.status_code == 202, accepted.text
    job = f"{api_url}/api/v1/jobs/{accepted.json()['job_id']}"
    deadline = time.monotonic() + 180
    while (state := httpx.get(job, headers=headers, timeout=30).json())["state"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, state
        time.sleep(1.5)  # within the free plan's 60 requests a minute, however long it trains
    assert state["state"] == "succeeded", state
    model = f"{api_url}/api/v1/models/{accepted.json()['model_id']}"
    assert httpx.post(f"{model}/deploy", headers=headers, timeout=60).status_code == 200
    features = {k: v for k, v in row.items() if k != "discontinued"}
    scored = httpx.post(f"{model}/predict", json={"rows": [features]}, headers=headers, timeout=60)
    assert scored.status_code == 200, scored.text
    assert 0.0 <= scored.json()["predictions"][0]["score"] <= 1.0
    # The cluster's deployments are for platform operators (RIVERGEN_AUTH__OPERATORS here).
    body = {"email": OPERATOR, "password": "a long enough password", "display_name": "Ops"}
    operator = httpx.post(f"{api_url}/api/v1/auth/register", json=body, timeout=30)
    assert operator.status_code == 201, operator.text
    as_tenant = httpx.get(f"{api_url}/api/v1/operations/deployments", headers=headers, timeout=60)
    assert as_tenant.status_code == 403, as_tenant.text
    ops = httpx.get(
        f"{api_url}/api/v1/operations/deployments",
        timeout=60,
        headers={"Authorization": f"Bearer {operator.json()['access_token']}"},
    )
    assert ops.status_code == 200, ops.text
    running = {
        d["name"]: d["running_replicas"]
        for a in ops.json()["applications"]
        for d in a["deployments"]
    }
    assert running["model-studio"] >= 1 and running["socketio"] == 4, running


def assert_demo_seeded(platform: RunningPlatform) -> None:
    """The README's run command also seeds the demo: its printed sign-in works and shows the
    Northwind tables, with the malformed rows of orders.csv kept aside."""
    line = platform.wait_for("Demo: sign in as", 240)
    email, password = line.split("sign in as ")[1].split(" with password ")
    password = password.split(" ")[0]
    api = platform.api_url
    login = httpx.post(
        f"{api}/api/v1/auth/login", json={"email": email, "password": password}, timeout=30
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    listed = httpx.get(f"{api}/api/v1/datasets", headers=headers, timeout=30).json()["items"]
    rows = {d["name"]: d["row_count"] for d in listed}
    assert rows["products"] == 77 and rows["orders"] == 830 - 176
    assert "demo: dataset orders: 654 rows, profiled (176 malformed rows kept aside" in "".join(
        platform.output
    )
    orders = next(d for d in listed if d["name"] == "orders")
    profile = httpx.get(
        f"{api}/api/v1/datasets/{orders['id']}/profile", headers=headers, timeout=30
    ).json()["profile"]
    assert profile["row_count"] == 654


async def live_job_events(api_url: str) -> None:
    """A job's events travel the whole way: supervisor -> outbox -> relay -> Kafka ->
    notification bridge -> Redis Socket -> the Socket.io replicas -> 8 clients of the
    workspace, in order; a client of another workspace gets none; the catch-up endpoint lists
    the same events."""
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        tokens = []
        for name in ("live", "other"):  # organizations of their own: their own usage and quota
            made = await http.post(
                "/api/v1/auth/register",
                json={
                    "email": f"{name}-{uuid.uuid4().hex[:8]}@example.com",
                    "password": "a long enough password",
                    "display_name": name.title(),
                },
            )
            assert made.status_code == 201, made.text
            tokens.append(made.json()["access_token"])
        token, other_token = tokens
        auth = {"Authorization": f"Bearer {token}"}
        clients = [await connect(api_url, token) for _ in range(8)]
        outsider = await connect(api_url, other_token)
        try:
            for client in [*clients, outsider]:
                await client.wait_for("welcome", timeout_s=30)
            accepted = await http.post(
                "/api/v1/jobs",
                headers=auth,
                json={
                    "kind": "sleep",
                    "params": {"seconds": 3, "steps": 3},
                },
            )
            assert accepted.status_code == 202, accepted.text
            job = accepted.json()["job_id"]
            seen = []
            for client in clients:
                await client.wait_for("job.completed", timeout_s=120)
                events = [d for name, d in client.events if name.startswith("job.")]
                assert all(d["data"]["job_id"] == job for d in events)
                assert [d["id"] for d in events] == sorted(d["id"] for d in events)
                progress = [d["data"]["progress"] for d in events if d["event"] == "job.progress"]
                assert progress == sorted(progress) and progress, events
                seen.append([d["event_id"] for d in events])
            assert all(ids == seen[0] for ids in seen)  # every client, the same events in order
            assert not [name for name, _ in outsider.events if name.startswith("job.")]
            caught = await http.get("/api/v1/notifications", headers=auth)
            assert caught.status_code == 200, caught.text
            listed = [
                n["event_id"] for n in caught.json()["items"] if n["event"].startswith("job.")
            ]
            assert listed == seen[0]
        finally:
            for client in [*clients, outsider]:
                await client.close()


def through(api_url: str, source: str) -> httpx.Client:
    """A client connecting from ``source`` (any address of 127.0.0.0/8 is this machine's)."""
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=api_url, transport=transport, timeout=30)


def sign_in(client: httpx.Client, email: str, password: str, xff: str | None = None) -> int:
    headers = {"X-Forwarded-For": xff} if xff else None
    body = {"email": email, "password": password}
    response = client.post("/api/v1/auth/login", json=body, headers=headers)
    if response.status_code == 429:
        assert response.json()["error"]["code"] == "login_throttled", response.text
    return response.status_code


def fail_until_delayed(client: httpx.Client, email: str, xffs: list[str | None]) -> None:
    """One wrong password per entry of ``xffs`` (sent as X-Forwarded-For), waiting out each
    delay: after 8 failures the next attempt of that client waits 8 s (1 s after the 5th,
    doubling)."""
    failures = 0
    while failures < len(xffs):
        headers = {"X-Forwarded-For": xffs[failures]} if xffs[failures] else None
        body = {"email": email, "password": "not the password"}
        response = client.post("/api/v1/auth/login", json=body, headers=headers)
        if response.status_code == 429:
            time.sleep(response.json()["error"]["details"]["retry_after_s"])
            continue
        assert response.status_code == 401, response.text
        failures += 1


def assert_client_addresses(api_url: str) -> None:
    """Through Serve's HAProxy from 127.0.0.2..127.0.0.9: failures from one address do not
    block another; a forged X-Forwarded-For changes nothing; the header of a trusted proxy in
    front (a load balancer at 127.0.0.9) names the client."""
    password = "a long enough password"
    ada, ivy = (f"{n}-{uuid.uuid4().hex[:8]}@example.com" for n in ("ada", "ivy"))
    with through(api_url, "127.0.0.2") as attacker, through(api_url, LOAD_BALANCER) as balancer:
        for client, email in ((attacker, ada), (balancer, ivy)):
            body = {"email": email, "password": password, "display_name": "Addr"}
            made = client.post("/api/v1/auth/register", json=body)
            assert made.status_code == 201, made.text
        # Every failure forges another address: all of them count against 127.0.0.2.
        fail_until_delayed(attacker, ada, [f"9.9.9.{n}" for n in range(8)])
        assert sign_in(attacker, ada, password) == 429
        assert sign_in(attacker, ada, password, xff="8.8.8.8") == 429
        for n in range(3, 9):  # the owner, from any other address
            with through(api_url, f"127.0.0.{n}") as other:
                assert sign_in(other, ada, password) == 200, n
        # Behind the load balancer: its header names the client (whatever hops the client
        # forged before it), and another client behind it is not slowed.
        fail_until_delayed(balancer, ivy, ["203.0.113.7"] * 8)
        assert sign_in(balancer, ivy, password, xff="203.0.113.7") == 429
        assert sign_in(balancer, ivy, password, xff="9.9.9.9, 203.0.113.7") == 429
        assert sign_in(balancer, ivy, password, xff="203.0.113.8") == 200


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hex_address)  # 32-bit words in the machine's (little-endian) order
    ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(ordered)


def listening_sockets(pids: set[int]) -> list[tuple[str, int, int]]:
    """(address, port, pid) of every listening TCP socket of ``pids``, from /proc/net/tcp*."""
    owner: dict[int, int] = {}
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    owner[int(target[8:-1])] = pid
        except OSError:  # gone, or not ours to read
            continue
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state == "0A" and inode in owner:  # 0A: LISTEN
                address, port = local.split(":")
                found.append((str(_address(address)), int(port, 16), owner[inode]))
    return found


def on_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def assert_listens_on_loopback_only(platform: RunningPlatform) -> None:
    """No listening socket of the platform's processes (Ray's GCS, raylet, workers, agents and
    dashboard, HAProxy with its stats and metrics, the replicas, the embedded services)
    outside 127.0.0.0/8 (or ::1)."""
    processes = platform.process_tree()
    sockets = listening_sockets({p.pid for p in processes})
    names = {p.pid: p.name() for p in processes if p.is_running()}
    assert any(port == PORT for _, port, _ in sockets), sockets  # HAProxy's frontend
    assert any("haproxy" in names.get(pid, "") for _, _, pid in sockets), sockets
    outside = [(a, port, names.get(pid)) for a, port, pid in sockets if not on_loopback(a)]
    assert not outside, outside


def assert_gone(processes: list[psutil.Process], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    alive = processes
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.2)
    assert not alive, [(p.pid, p.name()) for p in alive]


@pytest.mark.slow
def test_embedded_platform_up_ready_and_down_leaves_nothing(tmp_path: Path) -> None:
    env = clean_env(
        RIVERGEN_RAY__DASHBOARD_PORT=str(DASHBOARD_PORT),
        RIVERGEN_AUTH__OPERATORS=f'["{OPERATOR}"]',
        RIVERGEN_HTTP__UPSTREAM_PROXIES=f'["{LOAD_BALANCER}/32"]',
        # Off the fixed ports another Ray on this machine may hold.
        RIVERGEN_RAY__DASHBOARD_AGENT_PORT="28365",
        RAY_SERVE_HAPROXY_STATS_PORT="28404",
        RAY_SERVE_HAPROXY_METRICS_PORT="28101",
    )
    started = time.monotonic()
    with platform_up(tmp_path / "state", env, PORT, command=README_RUN) as platform:
        assert_all_ready(platform.api_url)
        token, _ = assert_accounts_work(platform.api_url)
        assert time.monotonic() - started < 120
        assert_storage_works(platform.api_url, token)
        assert_dataset_from_upload(platform.api_url, token)
        assert_demo_seeded(platform)
        assert_client_addresses(platform.api_url)
        assert_listens_on_loopback_only(platform)
        output = "".join(platform.output)
        assert f"http://127.0.0.1:{PORT}/docs" in output
        assert f"http://127.0.0.1:{DASHBOARD_PORT}" in output
        assert "postgres: embedded" in output and "events: embedded" in output

        # Ray 2.60 guards the dashboard with a token; the banner tells how to get it.
        dashboard = f"http://127.0.0.1:{DASHBOARD_PORT}/api/version"
        assert httpx.get(dashboard, timeout=10).status_code == 401
        token = (
            subprocess.run(
                [str(Path(sys.executable).parent / "ray"), "get-auth-token"],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(dashboard, headers=headers, timeout=10).is_success
        openapi = httpx.get(f"{platform.api_url}/openapi.json", timeout=10).json()
        assert {"/healthz", "/readyz"} <= set(openapi["paths"])

        missing = httpx.get(
            f"{platform.api_url}/api/v1/nothing-here",
            timeout=10,
            headers={"X-Request-ID": "req-test-0001"},
        )
        assert missing.status_code == 404
        assert missing.headers["x-request-id"] == "req-test-0001"
        assert missing.json() == {
            "error": {
                "code": "not_found",
                "message": "Not Found",
                "request_id": "req-test-0001",
                "details": {},
            }
        }

        status = platform.rivergen("status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "postgres" in status.stdout and "ok" in status.stdout
        again = platform.rivergen("up", timeout=30)
        assert again.returncode == 1 and "already running" in again.stdout

        processes = platform.process_tree()
        assert any("raylet" in " ".join(p.cmdline()) for p in processes)
        assert any("postgres" in p.name() for p in processes)
        down = platform.rivergen("down")
        assert down.returncode == 0 and "stopped" in down.stdout
        platform.process.wait(60)
    assert_gone(processes)
    status = subprocess.run(
        [*RIVERGEN, "status", "--data-dir", str(tmp_path / "state")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert status.returncode == 3


@pytest.mark.slow
def test_platform_on_the_real_services(settings: Settings, cluster: RayCluster) -> None:
    """The platform on the real services (PgBouncer, two Redis, Kafka, the S3 server), as
    `serve deploy` runs it on the suite's multi-node cluster: accounts, storage, a job's live
    events, the outbox relay and billing metered from events."""
    api_url = cluster.api_url
    report = assert_all_ready(api_url)
    assert report["ready"] is True
    token, workspace = assert_accounts_work(api_url)
    assert_storage_works(api_url, token)
    asyncio.run(live_job_events(api_url))
    # The relay deployment publishes what a transaction put in the outbox.
    assert asyncio.run(outbox_round_trip(settings)) is True
    # Usage metered from events: outbox -> relay -> Kafka -> billing-metering -> counters.
    usage = Event(
        type="usage.compute.used", workspace_id=uuid.UUID(workspace), data={"seconds": 2.5}
    )
    asyncio.run(write_outbox(settings, Topic.JOBS, usage))
    deadline = time.monotonic() + 60
    used = None
    while time.monotonic() < deadline and used != "2.5":
        response = httpx.get(
            f"{api_url}/api/v1/billing/usage",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        metrics = {m["metric"]: m["used"] for m in response.json()["metrics"]}
        used = str(metrics["compute_seconds"])
        time.sleep(0.5)
    assert used == "2.5"


async def write_outbox(settings: Settings, topic: Topic, event: Event) -> None:
    assert settings.postgres.dsn is not None
    db = Database(settings.postgres.dsn.get_secret_value(), settings.postgres)
    await db.open()
    try:
        async with db.transaction() as conn:
            await add_to_outbox(conn, topic, event)
    finally:
        await db.close()


async def outbox_round_trip(settings: Settings, timeout_s: float = 60) -> bool:
    assert settings.postgres.dsn is not None
    db = Database(settings.postgres.dsn.get_secret_value(), settings.postgres)
    await db.open()
    bus = connect_event_bus(settings)
    consumer = bus.consumer(Topic.NOTIFICATIONS, group_id=f"e2e-{uuid.uuid4().hex}")
    event = Event(type="notification", data={"probe": uuid.uuid4().hex})
    try:
        async with db.transaction() as conn:
            await add_to_outbox(conn, Topic.NOTIFICATIONS, event)
        await consumer.start()
        async with asyncio.timeout(timeout_s):
            while True:
                for received in await consumer.getmany(timeout_s=1.0):
                    if received.event.event_id == event.event_id:
                        return received.event == event
    finally:
        await consumer.stop()
        await bus.stop()
        await db.close()


def test_unreachable_kafka_stops_start_up_naming_it(tmp_path: Path) -> None:
    env = clean_env(RIVERGEN_KAFKA__BOOTSTRAP_SERVERS="127.0.0.1:1")
    started = time.monotonic()
    result = subprocess.run(
        [*RIVERGEN, "up", "--data-dir", str(tmp_path / "state"), "--port", str(PORT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert "kafka" in result.stderr.lower() and "127.0.0.1:1" in result.stderr, result.stderr
    assert elapsed < 15, elapsed
    assert not (tmp_path / "state" / "postgres").exists()  # nothing embedded was started
