"""The platform's HTTP API (FastAPI): the gateway and Storage Orchestration. Serve hosts it;
bare uvicorn can too (benchmarks, tests)."""

from rivergen.api.app import GATEWAY_ROUTERS, STORAGE_PREFIX, STORAGE_ROUTERS, create_app

__all__ = ["GATEWAY_ROUTERS", "STORAGE_PREFIX", "STORAGE_ROUTERS", "create_app"]
