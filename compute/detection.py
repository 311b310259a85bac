"""Sensitive-data detection as a Ray task over a staged dataset version: a seeded uniform sample
of its rows, each text or integer column classified
(:mod:`rivergen.services.governance.detection`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import ray

from compute.staging import RayDatasetCompute
from compute.tasks import outcome, require_ray
from rivergen.agents.governance_agent.schemas import ScanSample
from rivergen.services.governance.detection import classify_columns
from rivergen.settings import Settings

SAMPLE_SEED = 8


def _may_hold_text(field: pa.Field) -> bool:
    # Card numbers and phone numbers are often stored as integers; floats, dates, booleans and
    # nested values never carry the kinds we look for.
    kind = field.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind)
    )


def detect_sample(table: pa.Table, sample_size: int, threshold: float) -> ScanSample:
    """Classify the columns of a seeded uniform sample of ``sample_size`` rows of ``table``."""
    if table.num_rows > sample_size:
        rows = np.random.default_rng(SAMPLE_SEED).choice(table.num_rows, sample_size, False)
        table = table.take(pa.array(np.sort(rows)))
    columns: dict[str, list[Any]] = {
        field.name: table.column(field.name).to_pylist()
        for field in table.schema
        if _may_hold_text(field)
    }
    return ScanSample(sampled_rows=table.num_rows, findings=classify_columns(columns, threshold))


_detect = ray.remote(num_cpus=0.5)(detect_sample)


class RaySensitiveScanner:
    """The Governance agent's scanner
    (:class:`rivergen.agents.governance_agent.SensitiveScanner`): the version is
    staged into the object store and sampled there by one task."""

    def __init__(self, settings: Settings) -> None:
        self._staging = RayDatasetCompute(settings)

    async def scan(self, key: str, sample_size: int, threshold: float) -> ScanSample:
        require_ray()
        sample: ScanSample = await outcome(
            _detect.remote(self._staging.load(key), sample_size, threshold)
        )
        return sample
