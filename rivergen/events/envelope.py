"""The one event envelope, and the topic names, in one place.

Every event on every topic, whichever bus carries it, is an :class:`Event` serialized as JSON::

    {"event_id": "…uuid…", "type": "storage.file.created", "workspace_id": "…uuid…" | null,
     "occurred_at": "2025-01-01T12:00:00Z", "actor": "user:…" | null, "data": {...}}
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


class Topic(StrEnum):
    """The platform's topics (Kafka topics; stream keys of the embedded bus)."""

    STORAGE = "rivergen.storage"
    JOBS = "rivergen.jobs"
    MODELS = "rivergen.models"
    NOTIFICATIONS = "rivergen.notifications"
    GOVERNANCE_ALERTS = "governance.alerts"
    MODEL_METRICS = "model.metrics"
    TRAIN_RESULTS = "train.results"
    DECISION_SIMULATION_REQUEST = "decision.simulation.request"
    DECISION_SIMULATION_RESULT = "decision.simulation.result"


ALL_TOPICS: tuple[str, ...] = tuple(topic.value for topic in Topic)


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """What happened, to which workspace, when, and by whom.

    Immutable. ``event_id`` is the identity consumers de-duplicate on; a redelivered event
    carries the same id. ``occurred_at`` is always timezone-aware UTC (a naive timestamp is
    rejected, another offset is converted).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(default_factory=uuid4, description="Identity of this event.")
    type: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$",
        description="Dotted lower-case name, e.g. `storage.file.created`.",
    )
    workspace_id: UUID | None = Field(
        None, description="Tenant the event belongs to; None for platform-wide events."
    )
    occurred_at: AwareDatetime = Field(default_factory=_now, description="When it happened (UTC).")
    actor: str | None = Field(None, max_length=500, description="Who caused it, if anyone.")
    data: dict[str, Any] = Field(default_factory=dict, description="Type-specific payload.")

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def to_json(self) -> bytes:
        """The wire form (UTF-8 JSON)."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event:
        """Parse the wire form; raises ``pydantic.ValidationError`` if it is not an envelope."""
        return cls.model_validate_json(raw)

    @property
    def key(self) -> str | None:
        """The default partition key: events of one workspace keep their order."""
        return str(self.workspace_id) if self.workspace_id is not None else None
