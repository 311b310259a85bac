"""Which platform events people see, and as which Socket.io event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from rivergen.events import Event, Topic
from rivergen.notifications import (
    NOTIFICATION,
    NOTIFICATIONS,
    NOTIFIED_TOPICS,
    socket_event_of,
    unpack,
)
from rivergen.notifications.bridge import runs
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


def _note(
    n: int, workspace: uuid.UUID, type_: str = "job.progress", **data: object
) -> Notification:
    return Notification(
        id=n,
        event_id=uuid4(),
        event=type_,
        type=type_,
        workspace_id=workspace,
        occurred_at=datetime.now(UTC),
        data=dict(data),
    )


def test_what_goes_out_together_is_a_run_of_one_workspace_and_the_same_rooms_in_order() -> None:
    other, user = uuid4(), uuid4()
    notes = [
        *(_note(n, WORKSPACE) for n in range(1, 6)),
        _note(6, WORKSPACE, MEMBER_ADDED, user_id=str(user)),  # also to the user's room
        _note(7, WORKSPACE),
        _note(8, other),
        _note(9, other),
        *(_note(n, WORKSPACE) for n in range(10, 13)),
    ]
    cut = list(runs(notes, limit=3))
    assert [[n.id for n in run] for run in cut] == [
        [1, 2, 3],  # at most `limit` a run
        [4, 5],
        [6],  # other rooms: a run of its own, in its place
        [7],
        [8, 9],
        [10, 11, 12],
    ]
    assert [n for run in cut for n in run] == notes  # nothing lost, nothing repeated
    assert list(runs([], limit=3)) == []


def test_a_client_reads_a_batch_as_its_notifications_under_their_own_names() -> None:
    first, second = _note(1, WORKSPACE), _note(2, WORKSPACE, "job.completed")
    items = [first.model_dump(mode="json"), second.model_dump(mode="json")]
    assert unpack(NOTIFICATIONS, {"items": items}) == [
        ("job.progress", items[0]),
        ("job.completed", items[1]),
    ]
    assert unpack("job.progress", items[0]) == [("job.progress", items[0])]
    assert unpack("welcome", {"instance_id": "a"}) == [("welcome", {"instance_id": "a"})]
