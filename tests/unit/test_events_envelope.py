"""The event envelope: wire round trip and validation (no servers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from rivergen.events import ALL_TOPICS, Event, Topic


def test_round_trip_keeps_every_field() -> None:
    event = Event(
        type="storage.file.created",
        workspace_id=uuid4(),
        actor="user:42",
        data={"file_id": str(uuid4()), "size": 1024, "tags": ["a", "b"], "nested": {"x": None}},
    )

    assert Event.from_json(event.to_json()) == event
    assert Event.from_json(event.to_json().decode()) == event


def test_wire_form_is_the_documented_envelope() -> None:
    workspace = uuid4()
    event = Event(
        type="job.completed",
        workspace_id=workspace,
        occurred_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        data={"job_id": "j1"},
    )

    wire = json.loads(event.to_json())

    assert set(wire) == {"event_id", "type", "workspace_id", "occurred_at", "actor", "data"}
    assert UUID(wire["event_id"]) == event.event_id
    assert wire["workspace_id"] == str(workspace)
    assert wire["occurred_at"] == "2025-01-02T03:04:05Z"
    assert wire["actor"] is None
    assert wire["data"] == {"job_id": "j1"}


def test_defaults_give_a_fresh_identity_and_utc_now() -> None:
    before = datetime.now(UTC)
    first, second = Event(type="notification"), Event(type="notification")

    assert first.event_id != second.event_id
    assert first.occurred_at.tzinfo is UTC
    assert before <= first.occurred_at <= datetime.now(UTC)
    assert first.workspace_id is None and first.actor is None and first.data == {}
    assert first.key is None


def test_the_key_is_the_workspace() -> None:
    workspace = uuid4()
    assert Event(type="job.progress", workspace_id=workspace).key == str(workspace)


def test_other_offsets_are_converted_to_utc() -> None:
    local = datetime(2025, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))

    event = Event(type="job.progress", occurred_at=local)

    assert event.occurred_at == local
    assert event.occurred_at.utcoffset() == timedelta(0)
    assert (
        Event.from_json(
            '{"type": "a.b", "occurred_at": "2025-01-01T12:00:00+02:00"}'
        ).occurred_at.hour
        == 10
    )


@pytest.mark.parametrize(
    "payload",
    [
        {},  # no type
        {"type": ""},
        {"type": "Storage.File"},  # not lower-case
        {"type": "storage..file"},
        {"type": "a.b", "occurred_at": "2025-01-01T12:00:00"},  # naive timestamp
        {"type": "a.b", "event_id": "not-a-uuid"},
        {"type": "a.b", "workspace_id": "42"},
        {"type": "a.b", "data": [1, 2]},
        {"type": "a.b", "unknown": 1},  # the envelope is closed
    ],
)
def test_invalid_envelopes_are_rejected(payload: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Event.from_json(json.dumps(payload))


def test_not_json_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Event.from_json(b"\x00 not json")


def test_events_are_immutable() -> None:
    event = Event(type="a.b")
    with pytest.raises(ValidationError):
        event.type = "c.d"  # type: ignore[misc]


def test_topic_names_are_the_documented_ones() -> None:
    assert set(ALL_TOPICS) == {
        "rivergen.storage",
        "rivergen.jobs",
        "rivergen.models",
        "rivergen.notifications",
        "governance.alerts",
        "model.metrics",
        "train.results",
        "decision.simulation.request",
        "decision.simulation.result",
    }
    assert Topic.STORAGE == "rivergen.storage"
