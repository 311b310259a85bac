"""The e2e suite's platform: one three-node Ray cluster (tests/e2e/cluster.py) with the platform
deployed by `serve deploy`, shared by every test that asks for ``cluster`` and stopped after the
last test of this directory.

Tests that start a platform of their own (`rivergen up`) run first, before the cluster starts,
so the two never compete for the machine; of the cluster's tests the deploy check runs first
(it carries the cluster's start-up in its time).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rivergen.settings import Settings
from tests.e2e.cluster import RayCluster, ray_cluster

HERE = Path(__file__).resolve().parent
FIRST_ON_THE_CLUSTER = "test_serve_deploy.py"


@pytest.fixture(scope="package")
def cluster(migrated: Settings) -> Iterator[RayCluster]:
    with ray_cluster(os.environ) as running:
        yield running


def _order(item: pytest.Item) -> tuple[int, int]:
    on_cluster = "cluster" in getattr(item, "fixturenames", ())
    return (int(on_cluster), int(item.path.name != FIRST_ON_THE_CLUSTER))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Called with the whole run's items: reorder only this directory's, in their own places.
    slots = [i for i, item in enumerate(items) if HERE in item.path.parents]
    ours = sorted((items[i] for i in slots), key=_order)
    for slot, item in zip(slots, ours, strict=True):
        items[slot] = item
