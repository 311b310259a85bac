"""Network faults between the gateway and its backing services, injected by a fault proxy.

The whole API runs under uvicorn with PgBouncer, Redis App, Kafka's bootstrap and S3 behind
fault proxies and short timeouts. For each fault: the API answers 503 with a machine-readable
code within the timeout plus one second (never a hang, never a 500), recovers once the fault
clears, and leaves no connection behind on the service's side.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from rivergen.settings import Settings
from tests.chaos.fault_proxy import FaultProxy
from tests.chaos.proxied_platform import (
    PG_TIMEOUT_S,
    POOL_MAX,
    READY_TIMEOUT_S,
    REDIS_TIMEOUT_S,
    S3_TIMEOUT_S,
    Proxies,
    pgbouncer_admin_dsn,
    pgbouncer_show,
    proxied_settings,
    redis_client_ports,
    secret,
    serve,
    start_proxies,
    timed,
    until,
)
from tests.integration.api_client import Account, register

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(60)]

GRACE_S = 1.0  # what the brief allows past a dependency's timeout
RECOVERY_S = 5.0


@pytest.fixture(scope="module")
def proxies(migrated: Settings) -> Iterator[Proxies]:
    found = start_proxies(migrated)
    yield found
    for proxy in found.all():
        proxy.stop()


@pytest.fixture(scope="module")
def faulty(migrated: Settings, proxies: Proxies) -> Settings:
    return proxied_settings(migrated, proxies)


@pytest.fixture(scope="module")
async def api(faulty: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(faulty) as client:
        yield client


@pytest.fixture(scope="module")
async def owner(api: httpx.AsyncClient) -> Account:
    return await register(api, "faults")


@pytest.fixture(autouse=True)
def healed(proxies: Proxies) -> Iterator[None]:
    proxies.heal()
    yield
    proxies.heal()


def new_policy() -> dict[str, object]:
    return {"name": f"p-{uuid.uuid4().hex[:8]}", "enabled": False, "rule": {"type": "access"}}


async def write(api: httpx.AsyncClient, owner: Account) -> httpx.Response:
    """A write that needs Postgres (and the session in Redis App)."""
    return await api.post("/api/v1/policies", json=new_policy(), headers=owner.headers())


def assert_unavailable(response: httpx.Response, elapsed: float, bound: float) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] and error["request_id"], error
    assert elapsed <= bound, f"503 after {elapsed:.2f} s, more than {bound:.2f} s"


async def recovers(api: httpx.AsyncClient, owner: Account) -> float:
    async def ok() -> bool:
        return (await write(api, owner)).status_code == 201

    return await until(ok, RECOVERY_S)


# -- Postgres (through PgBouncer) ------------------------------------------------------------


def pgbouncer_state(settings: Settings, proxies: Proxies) -> tuple[int, int, int]:
    """(PgBouncer clients that came through the proxy, server connections linked to a client,
    clients waiting) for the test database."""
    admin = pgbouncer_admin_dsn(settings)
    database = urlsplit(secret(settings.postgres.dsn)).path.lstrip("/")
    ports = {str(p) for p in proxies.postgres.upstream_ports()}
    clients = [c for c in pgbouncer_show(admin, "CLIENTS") if c["database"] == database]
    pools = [p for p in pgbouncer_show(admin, "POOLS") if p["database"] == database]
    through_proxy = sum(1 for c in clients if c["port"] in ports)
    sv_active = sum(int(p["sv_active"]) for p in pools)
    waiting = sum(int(p["cl_waiting"]) for p in pools)
    return through_proxy, sv_active, waiting


async def assert_no_pg_leak(faulty: Settings, proxies: Proxies) -> None:
    async def settled() -> bool:
        held = proxies.postgres.open_connections()
        through, sv_active, waiting = await asyncio.to_thread(pgbouncer_state, faulty, proxies)
        # The gateway holds no more than its pool; each of those is a live PgBouncer client,
        # none is stuck in a transaction (linked to a server connection), none waits for one.
        # (Connections the gateway dropped during the fault drain within the poll.)
        return held <= POOL_MAX and through == held and sv_active == 0 and waiting == 0

    await until(settled, 5.0, 0.2)


@pytest.mark.parametrize("fault", ["blackhole", "reset", "latency"])
async def test_postgres_fault_is_a_quick_503_then_recovers_without_leaks(
    api: httpx.AsyncClient, owner: Account, proxies: Proxies, faulty: Settings, fault: str
) -> None:
    assert (await write(api, owner)).status_code == 201
    if fault == "latency":
        proxies.postgres.latency(20)  # well under the timeout: slower, still served
        response, _ = await timed(write(api, owner))
        assert response.status_code == 201, response.text
        proxies.postgres.latency(PG_TIMEOUT_S * 1000 + 1000)  # longer than the timeout
    else:
        getattr(proxies.postgres, fault)()
    # More requests at once than the pool has connections: some wait for one, and that wait
    # is bounded too.
    results = await asyncio.gather(*(timed(write(api, owner)) for _ in range(2 * POOL_MAX)))
    for response, elapsed in results:
        assert_unavailable(response, elapsed, PG_TIMEOUT_S + GRACE_S)
    print(f"postgres {fault}: slowest 503 after {max(e for _, e in results):.2f} s")
    ready, elapsed = await timed(api.get("/readyz"))
    assert ready.status_code == 503 and elapsed <= READY_TIMEOUT_S + GRACE_S, elapsed
    assert not ready.json()["dependencies"]["postgres"]["ok"]
    proxies.postgres.pass_through()
    await recovers(api, owner)
    await assert_no_pg_leak(faulty, proxies)


# -- Redis App ---------------------------------------------------------------------------------


async def assert_no_redis_leak(faulty: Settings, proxies: Proxies) -> None:
    url = secret(faulty.redis_app.url).replace(
        proxies.redis_app.address, "{}:{}".format(*proxies.redis_app.upstream)
    )

    async def settled() -> bool:
        on_redis = await redis_client_ports(url)
        ours = proxies.redis_app.upstream_ports()
        # Redis holds exactly the connections the proxy still forwards, and they are few.
        return ours <= on_redis and len(ours) <= 2 * POOL_MAX

    await until(settled, 5.0, 0.2)


def inject(proxy: FaultProxy, fault: str, timeout_s: float) -> None:
    """``fault`` on ``proxy``; "latency" is one longer than the client's timeout."""
    if fault == "latency":
        proxy.latency(timeout_s * 1000 + 1000)
    else:
        getattr(proxy, fault)()


@pytest.mark.parametrize("fault", ["blackhole", "reset", "latency"])
async def test_redis_app_fault_is_a_quick_503_then_recovers_without_leaks(
    api: httpx.AsyncClient, owner: Account, proxies: Proxies, faulty: Settings, fault: str
) -> None:
    assert (await write(api, owner)).status_code == 201
    inject(proxies.redis_app, fault, REDIS_TIMEOUT_S)
    # Every authenticated request reads its session in Redis App.
    results = await asyncio.gather(
        *(timed(api.get("/api/v1/me", headers=owner.headers())) for _ in range(4))
    )
    for response, elapsed in results:
        assert_unavailable(response, elapsed, REDIS_TIMEOUT_S + GRACE_S)
    print(f"redis_app {fault}: slowest 503 after {max(e for _, e in results):.2f} s")
    proxies.redis_app.pass_through()
    await recovers(api, owner)
    await assert_no_redis_leak(faulty, proxies)


# -- S3 ----------------------------------------------------------------------------------------


async def upload(api: httpx.AsyncClient, owner: Account) -> httpx.Response:
    return await api.post(
        "/api/v1/storage/upload",
        files={"file": ("faults.csv", b"a,b\n1,2\n", "text/csv")},
        headers=owner.headers(),
    )


@pytest.mark.parametrize("fault", ["blackhole", "reset", "latency"])
async def test_s3_fault_is_a_quick_503_then_recovers(
    api: httpx.AsyncClient, owner: Account, proxies: Proxies, fault: str
) -> None:
    first = await upload(api, owner)
    assert first.status_code == 201, first.text
    inject(proxies.s3, fault, S3_TIMEOUT_S)
    response, elapsed = await timed(upload(api, owner))
    # One attempt, bounded by the connect and the read timeout (a blackhole accepts the
    # connection, then never answers).
    assert_unavailable(response, elapsed, 2 * S3_TIMEOUT_S + GRACE_S)
    print(f"s3 {fault}: 503 after {elapsed:.2f} s")
    proxies.s3.pass_through()

    async def ok() -> bool:
        return (await upload(api, owner)).status_code == 201

    await until(ok, RECOVERY_S)
    files = await api.get("/api/v1/storage/files", headers=owner.headers())
    assert files.status_code == 200


# -- start-up while Postgres and the event bus are down ------------------------------------


async def test_a_gateway_starts_while_postgres_and_kafka_are_down_and_is_ready_once_back(
    migrated: Settings,
) -> None:
    """A replica starting during an outage answers /readyz 503 (and requests 503) instead of
    failing to start, and becomes ready on its own once the services are back."""
    proxies = start_proxies(migrated)
    try:
        proxies.postgres.reset()
        proxies.kafka.blackhole()
        settings = proxied_settings(migrated, proxies)
        async with serve(settings) as api:
            ready, elapsed = await timed(api.get("/readyz"))
            assert ready.status_code == 503
            assert elapsed <= READY_TIMEOUT_S + GRACE_S
            deps = ready.json()["dependencies"]
            assert not deps["postgres"]["ok"] and not deps["events"]["ok"], deps
            assert deps["redis_app"]["ok"] and deps["object_store"]["ok"], deps
            login = await api.post(
                "/api/v1/auth/login", json={"email": "x@example.com", "password": "p" * 12}
            )
            assert login.status_code == 503, login.text

            proxies.heal()

            async def dependencies_ready() -> bool:
                deps = (await api.get("/readyz")).json()["dependencies"]
                # Ray is not part of this process (no ray.init here): everything else is.
                return all(v["ok"] for k, v in deps.items() if k != "ray")

            await until(dependencies_ready, 15.0, 0.25)
            account = await register(api, "late")
            assert (await write(api, account)).status_code == 201
    finally:
        for proxy in proxies.all():
            proxy.stop()
