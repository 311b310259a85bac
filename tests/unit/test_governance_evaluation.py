"""Policies evaluated for a dataset and a role, and applied to the Northwind customers."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from rivergen.datasets.formats import ParseOptions, parse
from rivergen.engine.spec import QuerySpec
from rivergen.errors import Forbidden
from rivergen.services.governance import (
    Governed,
    Policy,
    apply_to_table,
    changes_data,
    check_columns,
    govern,
    inherit,
    query_columns,
)
from tests.conftest import SHARED_DATA

DATASET, OTHER, WORKSPACE = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_made = 0


def policy(rule: dict[str, Any], **fields: Any) -> Policy:
    global _made
    _made += 1
    defaults: dict[str, Any] = {
        "id": uuid.uuid4(), "workspace_id": WORKSPACE, "name": f"p{_made}",
        "dataset_id": DATASET, "created_by": "admin",
        "created_at": EPOCH + timedelta(seconds=_made), "updated_at": EPOCH,
    }  # fmt: skip
    return Policy.model_validate({**defaults, **fields, "rule": rule})


@pytest.fixture(scope="module")
def customers() -> pa.Table:
    # 24 rows carry an unquoted comma in their address: kept out, as the platform would.
    data = (SHARED_DATA / "northwind" / "customers.csv").read_bytes()
    return parse(data, "customers.csv", "text/csv", ParseOptions(on_invalid_rows="skip")).table


def test_only_enabled_policies_of_the_dataset_or_workspace_for_the_role_apply() -> None:
    viewers = policy({"type": "mask", "columns": ["phone"]}, roles=["viewer"])
    everyone = policy({"type": "mask", "columns": ["fax"]}, dataset_id=None)
    other = policy({"type": "mask", "columns": ["city"]}, dataset_id=OTHER)
    off = policy({"type": "mask", "columns": ["address"]}, enabled=False)
    policies = [viewers, everyone, other, off]
    assert govern(policies, DATASET, "viewer").masked == {"phone": "redact", "fax": "redact"}
    assert govern(policies, DATASET, "admin").masked == {"fax": "redact"}
    assert govern(policies, OTHER, "admin").masked == {"fax": "redact", "city": "redact"}
    assert not changes_data(govern([viewers], DATASET, "owner"))


def test_priority_orders_the_policies_and_filters_and_together() -> None:
    germany = {"column": "country", "op": "==", "value": "Germany"}
    not_berlin = {"column": "city", "op": "!=", "value": "Berlin"}
    late = policy({"type": "row_filter", "filters": [germany]}, priority=50)
    early = policy({"type": "row_filter", "filters": [not_berlin]}, priority=10)
    governed = govern([late, early], DATASET, "viewer")
    assert [a.id for a in governed.applied] == [early.id, late.id]
    assert [f.column for f in governed.row_filters] == ["city", "country"]


def test_masks_unite_strongest_wins_limits_shrink_and_deny_wins() -> None:
    policies = [
        policy({"type": "mask", "columns": ["phone", "fax"], "method": "partial"}),
        policy({"type": "mask", "columns": ["phone"], "method": "redact"}, priority=500),
        policy({"type": "mask", "columns": ["fax"], "method": "hash"}),
        policy({"type": "query_limit", "max_rows": 50, "timeout_s": 9}),
        policy({"type": "query_limit", "max_rows": 10}),
        policy({"type": "access", "columns": ["address"]}),
    ]
    governed = govern(policies, DATASET, "editor")
    assert governed.masked == {"phone": "redact", "fax": "hash"}
    assert (governed.max_rows, governed.timeout_s) == (10, 9)
    assert governed.denied_columns == ["address"] and not governed.denied
    denied = govern([*policies, policy({"type": "access"}, priority=9000)], DATASET, "editor")
    assert denied.denied
    with pytest.raises(Forbidden) as refused:
        check_columns(denied, [])
    assert refused.value.error_code == "dataset_denied"


def test_apply_filters_rows_then_masks_then_drops_denied(customers: pa.Table) -> None:
    governed = govern(
        [
            policy({"type": "row_filter", "filters": [
                {"column": "country", "op": "in", "value": ["Germany", "France"]}]}),
            policy({"type": "mask", "columns": ["contactName"], "method": "redact"}),
            policy({"type": "mask", "columns": ["customerID"], "method": "hash"}),
            policy({"type": "mask", "columns": ["phone"], "method": "partial"}),
            policy({"type": "mask", "columns": ["country"], "method": "redact"}),
            policy({"type": "access", "columns": ["address"]}),
        ],
        DATASET, "viewer",
    )  # fmt: skip
    shown = apply_to_table(customers, governed)
    raw = [r for r in customers.to_pylist() if r["country"] in ("Germany", "France")]
    assert shown.num_rows == len(raw) == 13
    assert "address" not in shown.column_names
    rows = shown.to_pylist()
    assert {r["contactName"] for r in rows} == {"****"}
    # The row filter saw the raw country; what is shown is masked.
    assert {r["country"] for r in rows} == {"****"}
    assert [r["customerID"] for r in rows] == [
        hashlib.sha256(r["customerID"].encode()).hexdigest()[:16] for r in raw
    ]
    for shown_row, raw_row in zip(rows, raw, strict=True):
        phone = raw_row["phone"]
        assert shown_row["phone"] == "*" * (len(phone) - 4) + phone[-4:]
        assert shown_row["city"] == raw_row["city"]


def test_masks_keep_types_and_nulls() -> None:
    table = pa.table({
        "n": pa.array([1, None, 3], pa.int64()),
        "s": pa.array(["abcdef", None, "ab"], pa.large_string()),
    })  # fmt: skip
    governed = Governed(dataset_id=DATASET, masked={"n": "hash", "s": "partial", "gone": "redact"})
    shown = apply_to_table(table, governed)
    assert shown.schema == table.schema
    assert shown.column("n").to_pylist() == [None, None, None]
    assert shown.column("s").to_pylist() == ["**cdef", None, "****"]


def test_a_filter_that_cannot_hold_leaves_no_rows(customers: pa.Table) -> None:
    for item in [
        {"column": "no_such_column", "op": "==", "value": "x"},
        {"column": "country", "op": ">", "value": 3},
    ]:
        governed = Governed(dataset_id=DATASET, row_filters=[item])
        shown = apply_to_table(customers, governed)
        assert shown.num_rows == 0 and shown.schema == customers.schema


def test_denied_dataset_and_columns_are_refused(customers: pa.Table) -> None:
    with pytest.raises(Forbidden) as refused:
        apply_to_table(customers, Governed(dataset_id=DATASET, denied=True))
    assert refused.value.error_code == "dataset_denied"
    governed = Governed(dataset_id=DATASET, denied_columns=["phone"])
    spec = QuerySpec(dataset=DATASET, filters=[{"column": "phone", "op": "not_null"}])
    with pytest.raises(Forbidden) as named:
        check_columns(governed, query_columns(spec))
    assert named.value.error_code == "column_denied"
    assert named.value.details == {"dataset_id": str(DATASET), "columns": ["phone"]}
    check_columns(governed, ["city"])


def test_a_result_inherits_its_inputs_masks_by_name_but_never_twice() -> None:
    result = uuid.uuid4()
    own = Governed(dataset_id=result, masked={"city": "partial"})
    reader = [Governed(dataset_id=DATASET, masked={"customerID": "hash", "phone": "redact"},
                       denied_columns=["fax"], max_rows=7,
                       row_filters=[{"column": "city", "op": "is_null"}])]  # fmt: skip
    pinned = [Governed(dataset_id=DATASET, masked={"customerID": "hash", "phone": "partial"})]
    shown = inherit(own, reader, pinned)
    assert shown.masked == {"city": "partial", "phone": "redact"}
    assert shown.denied_columns == ["fax"] and shown.max_rows == 7
    assert not shown.row_filters and not shown.denied
    assert inherit(own, [Governed(dataset_id=DATASET, denied=True)], []).denied
