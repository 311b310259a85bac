"""Which platform events people see, and as which Socket.io event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from rivergen.events import Event, Topic
from rivergen.notifications import NOTIFICATION, NOTIFIED_TOPICS, socket_event_of
from rivergen.notifications.events import MEMBER_ADDED, Notification, rooms_of
from rivergen.notifications.rooms import user_room, workspace_room

WORKSPACE = uuid.uuid4()


@pytest.mark.parametrize(
    ("topic", "type_", "shown_as"),
    [
        (Topic.JOBS, "job.progress", "job.progress"),
        (Topic.JOBS, "job.completed", "job.completed"),
        (Topic.JOBS, "job.failed", "job.failed"),
        (Topic.JOBS, "job.cancelled", "job.cancelled"),
        (Topic.STORAGE, "storage.file.created", "storage.file.created"),
        (Topic.STORAGE, "dataset.profiled", "dataset.profiled"),
        (Topic.STORAGE, "dataset.version.created", "dataset.version.created"),
        (Topic.NOTIFICATIONS, "prompt.progress", "prompt.progress"),
        (Topic.NOTIFICATIONS, "prompt.completed", "prompt.completed"),
        (Topic.NOTIFICATIONS, "workspace.renamed", NOTIFICATION),
        (Topic.GOVERNANCE_ALERTS, "governance.policy.violated", NOTIFICATION),
        # Usage and billing are not shown, whatever topic carries them.
        (Topic.JOBS, "usage.compute.used", None),
        (Topic.STORAGE, "usage.storage.changed", None),
        (Topic.NOTIFICATIONS, "billing.invoice.issued", None),
        # Internal events of other topics are not shown either.
        (Topic.MODEL_METRICS, "model.metrics.sampled", None),
    ],
)
def test_events_people_see_and_their_socket_names(
    topic: Topic, type_: str, shown_as: str | None
) -> None:
    event = Event(type=type_, workspace_id=WORKSPACE, data={})
    assert socket_event_of(topic.value, event) == shown_as


def test_an_event_of_no_workspace_reaches_no_room() -> None:
    assert socket_event_of(Topic.JOBS.value, Event(type="job.progress")) is None


def test_the_bridge_reads_the_platform_topics_people_care_about() -> None:
    assert set(NOTIFIED_TOPICS) == {
        "rivergen.jobs",
        "rivergen.storage",
        "rivergen.notifications",
        "rivergen.models",
        "governance.alerts",
        "model.metrics",
    }


def test_a_personal_event_also_reaches_its_users_room() -> None:
    workspace, user = uuid4(), uuid4()

    def notification(type_: str, data: dict[str, object]) -> Notification:
        return Notification(
            id=1,
            event_id=uuid4(),
            event=type_,
            type=type_,
            workspace_id=workspace,
            occurred_at=datetime.now(UTC),
            data=data,
        )

    added = notification(MEMBER_ADDED, {"user_id": str(user), "role": "editor"})
    assert rooms_of(added) == [workspace_room(workspace), user_room(user)]
    # Other events go to the workspace's room only, whatever their data says.
    progress = notification("job.progress", {"user_id": str(user)})
    assert rooms_of(progress) == [workspace_room(workspace)]
    assert rooms_of(notification(MEMBER_ADDED, {})) == [workspace_room(workspace)]
