"""`GET /healthz`: the gateway app through Ray Serve against the same app under bare uvicorn.

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

from bench.load import run_wrk, wait_for

PORT = 28400


def uvicorn_mode(connections: int, duration_s: int) -> str:
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "rivergen.api.app:create_app",
         "--host", "127.0.0.1", "--port", str(PORT), "--log-level", "warning", "--no-access-log"],
    )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{PORT}/healthz")
        result = run_wrk(
            "bare uvicorn", f"http://127.0.0.1:{PORT}/healthz", connections, duration_s
        )
    finally:
        server.terminate()
        server.wait(30)
    return result.model_dump_json()


def serve_mode(ha_proxy: bool, connections: int, duration_s: int) -> str:
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
        wait_for(f"http://127.0.0.1:{PORT}/healthz")
        label = "Serve (HAProxy ingress)" if ha_proxy else "Serve (default proxy)"
        result = run_wrk(label, f"http://127.0.0.1:{PORT}/healthz", connections, duration_s)
    finally:
        serve.shutdown()
        ray.shutdown()
    return result.model_dump_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["uvicorn", "serve-haproxy", "serve-default"])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    if args.mode == "uvicorn":
        print(uvicorn_mode(args.connections, args.duration))
    else:
        print(serve_mode(args.mode == "serve-haproxy", args.connections, args.duration))


if __name__ == "__main__":
    main()
