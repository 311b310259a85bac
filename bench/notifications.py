"""Notifications end to end: Kafka -> notification bridge -> Redis Socket -> the Socket.io
cluster (4 Serve replicas) -> clients.

    python -m bench.notifications [--clients 100] [--burst 2000] [--paced 200 --rate 200]

A local Ray head runs the platform's own Serve applications in the HAProxy ingress mode: the
gateway (to register the bench's user) and the Socket.io cluster (4 replicas, Redis adapter on
the run's own channel). The bridge (``NotificationBridge``, its own topic and group) runs in a
process of its own. This process connects the clients with the user's token (the server joins
them to the workspace's room) and publishes to Kafka. Latency is from the event's
``occurred_at`` (set just before publishing) to a client's receipt (same clock). The burst gives
the throughput (events a second, each to every client); the paced run the latency without a
queue. Reference: ``redis-benchmark`` PUBLISH on the Redis Socket server. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import socketio
from aiokafka.admin import AIOKafkaAdminClient

from rivergen.accounts.credentials import generate_private_key_pem
from rivergen.db import Database
from rivergen.events import Event, KafkaEventBus, OutgoingEvent, ensure_topics
from rivergen.notifications import NotificationBridge, NotificationEmitter, unpack
from rivergen.settings import Settings, load_settings

PORT = 29420
# HAProxy's stats and metrics listeners, off their fixed defaults (8404, 9101).
STATS_PORT, METRICS_PORT = 29421, 29422
REPLICAS = 4


def _secret(value: Any) -> str:
    assert value is not None
    return str(value.get_secret_value())


@contextlib.contextmanager
def cluster(channel: str, port: int) -> Iterator[str]:
    """The gateway and the 4-replica Socket.io cluster on a local Ray head; yields the base URL."""
    import ray
    from ray import serve

    from deployments.gateway import gateway_app
    from deployments.sockets import ROUTE_PREFIX, sockets_app
    from rivergen.cli.runner import HA_PROXY_ENV, LOCAL_DRAIN_ENV
    from rivergen.settings import GatewaySettings, SocketSettings

    env: dict[str, str] = {
        **HA_PROXY_ENV,
        **LOCAL_DRAIN_ENV,
        "RIVERGEN_SOCKETS__CHANNEL": channel,
        # A benchmark is not a client: each run registers an account from the same address.
        "RIVERGEN_GATEWAY__RATE_LIMIT": "false",
        "RAY_SERVE_HAPROXY_STATS_PORT": str(STATS_PORT),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(METRICS_PORT),
        "RIVERGEN_AUTH__JWT_PRIVATE_KEY": os.environ.get("RIVERGEN_AUTH__JWT_PRIVATE_KEY")
        or generate_private_key_pem(),
    }
    os.environ.update(env)  # the replicas read their settings from the Ray processes' environment
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.ERROR)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        one = GatewaySettings(min_replicas=1, max_replicas=1)  # type: ignore[call-arg]
        serve.run(gateway_app(one), name="rivergen", route_prefix="/")
        sizing = SocketSettings(num_replicas=REPLICAS)  # type: ignore[call-arg]
        serve.run(sockets_app(sizing), name="rivergen-sockets", route_prefix=ROUTE_PREFIX)
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]
        ray.shutdown()


async def register(base_url: str) -> tuple[str, str]:
    """A new user of the platform: (access token, workspace id)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        response = await http.post(
            "/api/v1/auth/register",
            json={
                "email": f"bench-{uuid.uuid4().hex[:10]}@example.com",
                "password": "a long bench password",
                "display_name": "Bench",
            },
        )
        response.raise_for_status()
        body = response.json()
    return str(body["access_token"]), str(body["workspace_id"])


async def bridge(topic: str, group: str, channel: str) -> None:
    settings = load_settings()
    db = Database(_secret(settings.postgres.dsn), settings.postgres)
    bus = KafkaEventBus(settings.kafka)
    await db.open()
    await bus.start()
    emitter = NotificationEmitter(
        _secret(settings.redis_socket.url), settings.redis_socket, channel=channel
    )
    worker = NotificationBridge(
        db, bus, emitter, topics=[topic], group_id=group, linger_s=settings.sockets.bridge_linger_s
    )
    await worker.run(asyncio.Event())


def _child(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bench.notifications", *args])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _wait(check: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        await asyncio.sleep(0.05)


async def _connect(clients: list[socketio.AsyncClient], url: str, token: str) -> None:
    """Connect every client with ``token`` (the server joins it to the workspace's room)."""
    deadline = time.monotonic() + 60
    for client in clients:
        while True:
            try:
                await client.connect(
                    url, transports=["websocket"], auth={"token": token}, wait_timeout=15
                )
                break
            except socketio.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


async def measure(args: argparse.Namespace, base_url: str, run: str) -> dict[str, Any]:
    settings = load_settings()
    topic, group, channel = f"bench.notify.{run}", f"bench-notify-{run}", f"socketio-bench-{run}"
    token, workspace = await register(base_url)
    await ensure_topics(settings.kafka, [topic], num_partitions=1, replication_factor=1)
    worker = _child("bridge", "--topic", topic, "--group", group, "--channel", channel)
    received: list[float] = []
    latencies: list[float] = []
    instances: list[str] = []
    clients = [socketio.AsyncClient(reconnection=False) for _ in range(args.clients)]

    messages = [0]

    async def on_event(event: str, data: dict[str, Any]) -> None:
        if event == "welcome":
            instances.append(data["instance_id"])
            return
        now = time.time()
        messages[0] += 1
        for _, item in unpack(event, data):  # a batch: its notifications, each received now
            received.append(now)
            occurred = datetime.fromisoformat(item["occurred_at"]).timestamp()
            latencies.append((now - occurred) * 1e3)

    bus = KafkaEventBus(settings.kafka)
    await bus.start()
    try:
        for client in clients:
            client.on("*", on_event)
        await _connect(clients, base_url, token)
        await _wait(lambda: len(instances) >= args.clients, 30)

        def event(n: int) -> OutgoingEvent:
            return OutgoingEvent(
                topic,
                Event(type="job.progress", workspace_id=workspace, data={"job_id": run, "n": n}),
            )

        # Warm-up: the bridge joins its group and every path is open.
        await bus.publish_many([event(-1)])
        await _wait(lambda: len(received) >= args.clients, 90)

        # Paced: latency without a queue.
        received.clear()
        latencies.clear()
        paced_from = time.monotonic()
        for n in range(args.paced):  # on a schedule: publishing's own time is not added
            await asyncio.sleep(max(0.0, paced_from + n / args.rate - time.monotonic()))
            await bus.publish_many([event(n)])
        paced_rate = args.paced / max(time.monotonic() - paced_from, 1e-9)
        await _wait(lambda: len(received) >= args.paced * args.clients, 120)
        paced_latencies = list(latencies)

        # Burst: throughput.
        received.clear()
        latencies.clear()
        messages[0] = 0
        started = time.time()
        for first in range(0, args.burst, 500):
            await bus.publish_many([event(n) for n in range(first, min(args.burst, first + 500))])
        await _wait(lambda: len(received) >= args.burst * args.clients, 300)
        elapsed = max(received) - started
        burst_latencies = list(latencies)
        burst_messages = messages[0]
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.disconnect()
        await bus.stop()
        worker.terminate()
        worker.wait(10)
        await _drop(settings, topic, group)
    return {
        "clients": args.clients,
        "replicas": len(set(instances)),
        "clients_per_replica": sorted(Counter(instances).values(), reverse=True),
        "burst_events": args.burst,
        "events_per_s": args.burst / elapsed,
        "deliveries_per_s": args.burst * args.clients / elapsed,
        "burst_p50_ms": statistics.median(burst_latencies),
        "burst_p99_ms": _percentile(burst_latencies, 0.99),
        "burst_messages_per_client": burst_messages / args.clients,
        "paced_events": args.paced,
        "paced_rate": paced_rate,
        "paced_p50_ms": statistics.median(paced_latencies),
        "paced_p99_ms": _percentile(paced_latencies, 0.99),
        "redis_publish_per_s": redis_publish_reference(settings),
    }


async def _drop(settings: Settings, topic: str, group: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    try:
        await admin.start()
        with contextlib.suppress(Exception):
            await admin.delete_consumer_groups([group])
        with contextlib.suppress(Exception):
            await admin.delete_topics([topic])
    finally:
        await admin.close()


def redis_publish_reference(settings: Settings) -> float:
    """``redis-benchmark`` PUBLISH (50 connections, 100,000 requests) on the Redis Socket server."""
    url = _secret(settings.redis_socket.url)
    match = re.match(r"redis://(?:[^@]*@)?([^:/]+):(\d+)", url)
    assert match, url
    out = subprocess.run(
        [
            "redis-benchmark",
            "-h",
            match[1],
            "-p",
            match[2],
            "-n",
            "100000",
            "-c",
            "50",
            "--csv",
            "PUBLISH",
            "bench-reference",
            "x" * 200,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    row = out.stdout.strip().splitlines()[-1].split(",")
    return float(row[1].strip('"'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="role")
    bridging = sub.add_parser("bridge")
    bridging.add_argument("--topic", required=True)
    bridging.add_argument("--group", required=True)
    bridging.add_argument("--channel", required=True)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--paced", type=int, default=200)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()
    if args.role == "bridge":
        asyncio.run(bridge(args.topic, args.group, args.channel))
        return
    run = uuid.uuid4().hex[:10]
    with cluster(f"socketio-bench-{run}", args.port) as base_url:
        result = asyncio.run(measure(args, base_url, run))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
