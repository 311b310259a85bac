"""Conversations are history: a turn computed under the owner's policies shows its rows to no
reader whose policies differ (a viewer's row filter, an editor's mask), in the listing and in
the turns; a follow-up by such a reader is computed under its own policies; and another
workspace's conversation does not exist."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.api_client import add_member, register
from tests.integration.ray_cluster import ray_local
from tests.integration.test_prompt_conversations import NORTHWIND, client, dataset, say, values

pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["client", "ray_local"]


async def test_conversation_turns_are_withheld_from_readers_governed_otherwise(
    client: httpx.AsyncClient,
) -> None:
    owner = await register(client, "owner")
    viewer = await add_member(client, owner, "viewer")
    editor = await add_member(client, owner, "editor")
    orders = await dataset(
        client, owner, "orders", "orders.csv", (NORTHWIND / "orders.csv").read_bytes()
    )
    first = await say(client, owner, "how many orders from Germany")
    conversation = first["conversation_id"]
    [(everything,)] = values(first)
    for policy in (
        {
            "name": "from 1997",
            "dataset_id": orders,
            "roles": ["viewer"],
            "rule": {
                "type": "row_filter",
                "filters": [{"column": "orderDate", "op": ">=", "value": "1997-01-01"}],
            },
        },
        {
            "name": "no ship names",
            "dataset_id": orders,
            "roles": ["editor"],
            "rule": {"type": "mask", "columns": ["shipName"], "method": "redact"},
        },
    ):
        made = await client.post("/api/v1/policies", json=policy, headers=owner.headers())
        assert made.status_code == 201, made.text

    mine = (await client.get("/api/v1/prompts/conversations", headers=owner.headers())).json()
    [own] = [c for c in mine["items"] if c["id"] == conversation]
    assert own["last"]["table"]["rows"] and not own["last"]["rows_withheld"]
    for reader in (viewer, editor):
        listed = await client.get("/api/v1/prompts/conversations", headers=reader.headers())
        [theirs] = [c for c in listed.json()["items"] if c["id"] == conversation]
        assert theirs["last"]["rows_withheld"] and theirs["last"]["table"]["rows"] == []
        turns = await client.get(
            f"/api/v1/prompts/conversations/{conversation}", headers=reader.headers()
        )
        assert turns.status_code == 200, turns.text
        assert all(t["rows_withheld"] and t["table"]["rows"] == [] for t in turns.json()["turns"])

    # The viewer's follow-up is computed under the viewer's row filter.
    again = await say(client, viewer, "what about Germany?", conversation)
    [(filtered,)] = values(again)
    assert 0 < filtered < everything

    stranger = await register(client, "stranger")
    hidden = await client.get(
        f"/api/v1/prompts/conversations/{conversation}", headers=stranger.headers()
    )
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "conversation_not_found"
