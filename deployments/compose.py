"""The platform's app in one process (no Serve): :func:`rivergen.api.create_app` on Ray's
compute adapters, every service in the process. What the tests, the benchmarks and a bare
``uvicorn --factory deployments.compose:create_app`` run; the Serve applications build the
same app with some services by handle (``deployments/gateway.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from compute.adapters import ray_adapters
from rivergen import api
from rivergen.settings import Settings


def create_app(settings: Settings | None = None, **options: Any) -> FastAPI:
    """:func:`rivergen.api.create_app` with Ray's compute adapters."""
    return api.create_app(settings, compute=ray_adapters, **options)
