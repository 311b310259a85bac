"""The gateway's HTTP API (FastAPI). Serve hosts it; bare uvicorn can too (benchmarks, tests)."""

from rivergen.api.app import create_app

__all__ = ["create_app"]
