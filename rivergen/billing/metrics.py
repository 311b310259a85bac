"""What is metered: the usage event types, their payloads, and the counters they add to."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from rivergen.events import Topic

USAGE_STORAGE_CHANGED = "usage.storage.changed"
"""``data: {"bytes_delta": int}`` (negative when bytes are freed); on :attr:`Topic.STORAGE`."""
USAGE_COMPUTE_USED = "usage.compute.used"
"""``data: {"seconds": number}``; on :attr:`Topic.JOBS`."""
USAGE_REQUEST = "usage.request"
"""``data: {"count": int}`` (a gateway replica sums its requests before publishing); on
:attr:`Topic.JOBS` until the platform has a usage topic of its own."""


class Metric(StrEnum):
    """The usage counters (``usage_counters.metric``)."""

    STORAGE_BYTES = "storage_bytes"
    COMPUTE_SECONDS = "compute_seconds"
    REQUESTS = "requests"


USAGE_TOPICS: dict[str, Topic] = {
    USAGE_STORAGE_CHANGED: Topic.STORAGE,
    USAGE_COMPUTE_USED: Topic.JOBS,
    USAGE_REQUEST: Topic.JOBS,
}
"""Where a service publishes each usage event type."""

METERED_TOPICS: tuple[str, ...] = tuple(sorted({t.value for t in USAGE_TOPICS.values()}))
"""The topics the metering consumer reads."""


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class StorageChanged(_Payload):
    bytes_delta: int


class ComputeUsed(_Payload):
    seconds: Decimal = Field(ge=0, allow_inf_nan=False)


class RequestsCounted(_Payload):
    count: int = Field(ge=0)


def usage_of(event_type: str, data: dict[str, object]) -> tuple[Metric, Decimal] | None:
    """The counter an event adds to and by how much; None for an event that is not metered.

    Raises ``pydantic.ValidationError`` for a metered type with a malformed payload.
    """
    if event_type == USAGE_STORAGE_CHANGED:
        return Metric.STORAGE_BYTES, Decimal(StorageChanged.model_validate(data).bytes_delta)
    if event_type == USAGE_COMPUTE_USED:
        return Metric.COMPUTE_SECONDS, ComputeUsed.model_validate(data).seconds
    if event_type == USAGE_REQUEST:
        return Metric.REQUESTS, Decimal(RequestsCounted.model_validate(data).count)
    return None
