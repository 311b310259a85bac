"""The gateway through Ray Serve against the same app under bare uvicorn, one endpoint at a time.

Endpoints: `healthz` (`GET /healthz`, no I/O) and `me` (`GET /api/v1/me` with a bearer token:
JWT check, a session read in Redis, two queries through PgBouncer). The request rate limit is
off in every mode (`RIVERGEN_GATEWAY__RATE_LIMIT=false`): a load test is not a client.

Each mode runs in its own process (Serve's ingress mode is fixed when Ray starts):
  uvicorn        the app alone, one uvicorn worker (the reference)
  serve-haproxy  Serve with RAY_SERVE_ENABLE_HA_PROXY=1 and RAY_SERVE_THROUGHPUT_OPTIMIZED=1
  serve-default  Serve's default proxy
One gateway replica in every Serve mode. Prints one LoadResult as JSON.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import uuid

import httpx

from bench.load import run_wrk, wait_for
from rivergen.accounts.credentials import generate_private_key_pem

PORT = 28400
BASE = f"http://127.0.0.1:{PORT}"


def target(endpoint: str) -> tuple[str, dict[str, str]]:
    """The URL to load and the headers to send (a new account for `me`)."""
    if endpoint == "healthz":
        return f"{BASE}/healthz", {}
    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    response = httpx.post(
        f"{BASE}/api/v1/auth/register",
        json={"email": email, "password": "benchmark password", "display_name": "Bench"},
        timeout=30,
    )
    response.raise_for_status()
    token = response.json()["access_token"]
    return f"{BASE}/api/v1/me", {"Authorization": f"Bearer {token}"}


def uvicorn_mode(endpoint: str, connections: int, duration_s: int) -> str:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "deployments.compose:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(PORT),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
    )
    try:
        wait_for(f"{BASE}/healthz")
        url, headers = target(endpoint)
        result = run_wrk("bare uvicorn", url, connections, duration_s, headers)
    finally:
        server.terminate()
        server.wait(30)
    return result.model_dump_json()


def serve_mode(endpoint: str, ha_proxy: bool, connections: int, duration_s: int) -> str:
    if ha_proxy:
        os.environ["RAY_SERVE_ENABLE_HA_PROXY"] = "1"
        os.environ["RAY_SERVE_THROUGHPUT_OPTIMIZED"] = "1"
    import ray
    from ray import serve

    from deployments.gateway import gateway_app
    from rivergen.settings import GatewaySettings

    ray.init(address="local", include_dashboard=False, logging_level="ERROR")
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": PORT})
        sizing = GatewaySettings(min_replicas=1, max_replicas=1)  # type: ignore[call-arg]
        serve.run(gateway_app(sizing), name="bench", route_prefix="/")
        wait_for(f"{BASE}/healthz")
        url, headers = target(endpoint)
        label = "Serve (HAProxy ingress)" if ha_proxy else "Serve (default proxy)"
        result = run_wrk(label, url, connections, duration_s, headers)
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]
        ray.shutdown()
    return result.model_dump_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["uvicorn", "serve-haproxy", "serve-default"])
    parser.add_argument("--endpoint", choices=["healthz", "me"], default="healthz")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    os.environ["RIVERGEN_GATEWAY__RATE_LIMIT"] = "false"
    os.environ.setdefault("RIVERGEN_AUTH__JWT_PRIVATE_KEY", generate_private_key_pem())
    if args.mode == "uvicorn":
        print(uvicorn_mode(args.endpoint, args.connections, args.duration))
    else:
        print(
            serve_mode(args.endpoint, args.mode == "serve-haproxy", args.connections, args.duration)
        )


if __name__ == "__main__":
    main()
