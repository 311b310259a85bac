"""The platform's app as the tests build it in one process (``deployments/compose.py``), and
the services of a started one."""

from __future__ import annotations

from fastapi import FastAPI

from deployments.compose import create_app
from rivergen.api.registry import ServiceRegistry, registry_of

__all__ = ["create_app", "services"]


def services(app: FastAPI) -> ServiceRegistry:
    """The services of a started app."""
    return registry_of(app)
