"""Schemathesis over the whole OpenAPI document, with two workspaces' credentials.

For a few generated requests of every operation (valid and invalid ones), sent as workspace
A's owner: no server error (5xx), and no id of workspace B anywhere in the body. Each request is
also sent without credentials (401 unless the route is public in the authorization table) and
as A into B's workspace (never a success on a workspace route, and never B's data).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import ray
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.config import SchemathesisConfig

from rivergen.acl import ROUTE_ACCESS
from rivergen.settings import Settings, load_settings
from tests.platform_app import create_app
from tests.security.live_server import Person, clear_login_throttle, live_server, register

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(60)]

# Built without I/O: the document only. The examples and fuzzing phases (a few generated
# requests per operation, valid and invalid); the coverage phase (boundaries of every
# parameter, unexpected methods) on request, as it may exceed the 60 s per operation on a
# loaded machine: RIVERGEN_TEST_FUZZ_COVERAGE=1, RIVERGEN_TEST_FUZZ_EXAMPLES=N.
COVERAGE = os.environ.get("RIVERGEN_TEST_FUZZ_COVERAGE") == "1"
schema = schemathesis.openapi.from_dict(
    create_app(load_settings()).openapi(),
    config=SchemathesisConfig.from_dict(
        {"seed": 11, "phases": {"coverage": {"enabled": COVERAGE}, "stateful": {"enabled": False}}}
    ),
)

WORKSPACE_ROUTES = {
    route
    for route, access in ROUTE_ACCESS.items()
    if access not in ("public", "user", "authenticated")
}


@pytest.fixture(scope="module")
def platform(migrated: Settings) -> Iterator[dict[str, Any]]:
    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False)
    quick = migrated.model_copy(
        update={
            # Every generated request is counted against the workspace's plan otherwise.
            "gateway": migrated.gateway.model_copy(update={"rate_limit": False}),
            "prompts": migrated.prompts.model_copy(update={"max_seconds": 5.0}),
        }
    )
    try:
        with live_server(quick) as base_url, httpx.Client(base_url=base_url, timeout=30) as c:
            a, b = register(c, "alpha"), register(c, "bravo")
            # B owns something in its workspace, so a leak would have something to show.
            made = c.post(
                "/api/v1/policies",
                json={"name": "bravo-policy", "enabled": False, "rule": {"type": "access"}},
                headers=b.headers(),
            )
            assert made.status_code == 201, made.text
            yield {
                "base_url": base_url,
                "a": a,
                "b": b,
                "b_ids": {b.workspace_id, b.user_id, made.json()["id"]},
            }
    finally:
        ray.shutdown()
        clear_login_throttle(migrated)


def call(case: Any, base_url: str, headers: dict[str, str]) -> Any:
    return case.call(base_url=base_url, headers=headers, timeout=30)


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("RIVERGEN_TEST_FUZZ_EXAMPLES", "3")),
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_to_its_credentials(case: Any, platform: dict[str, Any]) -> None:
    base_url: str = platform["base_url"]
    a: Person = platform["a"]
    b: Person = platform["b"]
    foreign: set[str] = platform["b_ids"]
    route = (case.operation.method.upper(), case.operation.path)
    access = ROUTE_ACCESS.get(route)
    assert access is not None, f"{route} is not in the authorization table"
    if case.method.upper() != route[0]:  # the coverage phase's unexpected methods
        response = call(case, base_url, a.headers())
        assert response.status_code < 500, f"{case.method} {route[1]}: {response.status_code}"
        return

    own = call(case, base_url, a.headers())
    assert own.status_code < 500, f"{route}: {own.status_code} {own.text[:500]}"
    assert not any(i in own.text for i in foreign), f"{route} answered with B's ids: {own.text}"

    anonymous = call(case, base_url, {})
    assert anonymous.status_code < 500, f"{route}: {anonymous.status_code} {anonymous.text[:500]}"
    if access != "public":
        assert anonymous.status_code == 401, f"{route} without credentials: {anonymous.status_code}"

    into_b = call(case, base_url, a.headers(b.workspace_id))
    assert into_b.status_code < 500, f"{route}: {into_b.status_code} {into_b.text[:500]}"
    if route in WORKSPACE_ROUTES:
        assert into_b.status_code >= 400, f"{route} let A into B's workspace"
    if into_b.status_code < 400:
        assert not any(i in into_b.text for i in foreign), f"{route} leaked B: {into_b.text}"
