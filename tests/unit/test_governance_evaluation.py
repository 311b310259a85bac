"""Policies evaluated for a dataset and a role, and applied to the Northwind customers."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
import sqlglot
from cryptography.fernet import Fernet
from pydantic import SecretStr

from rivergen.connectors.secrets import _derived_key
from rivergen.datasets.formats import ParseOptions, parse
from rivergen.engine.lineage import QueryLineage, query_lineage
from rivergen.engine.spec import QuerySpec
from rivergen.errors import ConfigurationError, Forbidden
from rivergen.services.governance import (
    Governed,
    Policy,
    apply_to_table,
    changes_data,
    check_columns,
    govern,
    hash_key,
    inherit,
    query_columns,
)
from rivergen.services.governance.keys import workspace_hash_key
from rivergen.services.governance.schemas import JobLineage
from rivergen.settings import AuthSettings, ConnectorSettings, Settings
from tests.conftest import SHARED_DATA

DATASET, OTHER, WORKSPACE = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
KEY = b"k" * 32
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_made = 0


def policy(rule: dict[str, Any], **fields: Any) -> Policy:
    global _made
    _made += 1
    defaults: dict[str, Any] = {
        "id": uuid.uuid4(),
        "workspace_id": WORKSPACE,
        "name": f"p{_made}",
        "dataset_id": DATASET,
        "created_by": "admin",
        "created_at": EPOCH + timedelta(seconds=_made),
        "updated_at": EPOCH,
    }
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
            policy(
                {
                    "type": "row_filter",
                    "filters": [{"column": "country", "op": "in", "value": ["Germany", "France"]}],
                }
            ),
            policy({"type": "mask", "columns": ["contactName"], "method": "redact"}),
            policy({"type": "mask", "columns": ["customerID"], "method": "hash"}),
            policy({"type": "mask", "columns": ["phone"], "method": "partial"}),
            policy({"type": "mask", "columns": ["country"], "method": "redact"}),
            policy({"type": "access", "columns": ["address"]}),
        ],
        DATASET,
        "viewer",
    )
    shown = apply_to_table(customers, governed, KEY)
    raw = [r for r in customers.to_pylist() if r["country"] in ("Germany", "France")]
    assert shown.num_rows == len(raw) == 13
    assert "address" not in shown.column_names
    rows = shown.to_pylist()
    assert {r["contactName"] for r in rows} == {"****"}
    # The row filter saw the raw country; what is shown is masked.
    assert {r["country"] for r in rows} == {"****"}
    # HMAC-SHA256 under the workspace's key, its first 16 hex digits: not the bare SHA-256.
    assert [r["customerID"] for r in rows] == [
        hmac.new(KEY, r["customerID"].encode(), hashlib.sha256).hexdigest()[:16] for r in raw
    ]
    assert not {r["customerID"] for r in rows} & {
        hashlib.sha256(r["customerID"].encode()).hexdigest()[:16] for r in raw
    }
    for shown_row, raw_row in zip(rows, raw, strict=True):
        phone = raw_row["phone"]
        assert shown_row["phone"] == "*" * (len(phone) - 4) + phone[-4:]
        assert shown_row["city"] == raw_row["city"]


def test_masks_keep_types_and_nulls() -> None:
    table = pa.table(
        {
            "n": pa.array([1, None, 3], pa.int64()),
            "s": pa.array(["abcdef", None, "ab"], pa.large_string()),
        }
    )
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


def test_without_lineage_a_result_inherits_masks_by_name_but_never_twice() -> None:
    result = uuid.uuid4()
    own = Governed(dataset_id=result, masked={"city": "partial"})
    reader = Governed(
        dataset_id=DATASET,
        masked={"customerID": "hash", "phone": "redact"},
        denied_columns=["fax"],
        max_rows=7,
    )
    pinned = Governed(dataset_id=DATASET, masked={"customerID": "hash", "phone": "partial"})
    job = JobLineage(inputs=[DATASET], pinned={DATASET: pinned})
    shown = inherit(own, job, {DATASET: reader})
    assert shown.masked == {"city": "partial", "phone": "redact"}
    assert shown.denied_columns == ["fax"] and shown.max_rows == 7
    assert not shown.row_filters and not shown.denied and not shown.derived_denied
    denied = Governed(dataset_id=DATASET, denied=True)
    assert inherit(own, job, {DATASET: denied}).denied
    # A row filter the submitter did not have: nothing to apply it through.
    filtered = Governed(dataset_id=DATASET, row_filters=[{"column": "city", "op": "is_null"}])
    assert inherit(own, job, {DATASET: filtered}).derived_denied


def lineage_of(sql: str) -> QueryLineage:
    schema = {"customerID": "string", "email": "string", "city": "string", "n": "int64"}
    tree = sqlglot.parse_one(sql, read="duckdb")
    return query_lineage(tree, {str(DATASET): schema}, [p.alias_or_name for p in tree.selects])


def test_masks_follow_lineage_through_renames_and_expressions() -> None:
    result = uuid.uuid4()
    job = JobLineage(
        inputs=[DATASET],
        lineage=lineage_of(
            f"SELECT email AS contact, upper(email) AS shout, email || '' AS same, "
            f'CASE WHEN n > 1 THEN email END AS picked, city FROM "{DATASET}"'
        ),
    )
    reader = Governed(dataset_id=DATASET, masked={"email": "hash"}, denied_columns=["city"])
    shown = inherit(Governed(dataset_id=result), job, {DATASET: reader})
    # A rename keeps the method; anything computed from the column is redacted, whole.
    assert shown.masked == {
        "contact": "hash",
        "shout": "redact",
        "same": "redact",
        "picked": "redact",
    }
    assert shown.blanked == ["shout", "same", "picked"]
    assert shown.denied_columns == ["city"] and not shown.derived_denied


def test_a_computed_column_is_redacted_whole_even_renamed_a_step_later() -> None:
    """Which rows of ``CASE WHEN email LIKE 'a%' THEN email END`` are null tells about the
    hidden emails: redacted, every row is ``****`` (a non-string column: every row null)."""
    first = uuid.uuid4()
    job = JobLineage(
        inputs=[DATASET],
        lineage=lineage_of(
            f"SELECT CASE WHEN email LIKE 'a%' THEN email END AS a, length(email) AS n, "
            f'email AS plain FROM "{DATASET}"'
        ),
    )
    reader = Governed(dataset_id=DATASET, masked={"email": "redact"})
    shown = inherit(Governed(dataset_id=first), job, {DATASET: reader})
    assert shown.blanked == ["a", "n"] and shown.masked == {
        "a": "redact",
        "n": "redact",
        "plain": "redact",
    }
    table = pa.table({"a": ["x@a", None], "n": [3, None], "plain": ["x@a", None]})
    assert apply_to_table(table, shown).to_pylist() == [
        {"a": "****", "n": None, "plain": "****"},
        {"a": "****", "n": None, "plain": None},
    ]
    # Renamed by a job over the first result: still whole.
    schema = {"a": "string", "n": "int64", "plain": "string"}
    tree = sqlglot.parse_one(f'SELECT a AS b, plain AS p FROM "{first}"', read="duckdb")
    second = JobLineage(
        inputs=[first], lineage=query_lineage(tree, {str(first): schema}, ["b", "p"])
    )
    again = inherit(Governed(dataset_id=uuid.uuid4()), second, {first: shown})
    assert again.blanked == ["b"] and again.masked == {"b": "redact", "p": "redact"}


def test_lineage_of_what_sqlglot_cannot_follow_is_every_column() -> None:
    """A whole row as a value, COLUMNS(...), a correlated subquery: never a column of nothing."""
    everything = {"customerID", "email", "city", "n"}
    for sql in (
        f'SELECT to_json(c) AS j FROM "{DATASET}" AS c',
        f'SELECT c AS row FROM "{DATASET}" AS c',
        f'SELECT city || to_json(c) AS j FROM "{DATASET}" AS c',
        f"SELECT COLUMNS('em.*') FROM \"{DATASET}\"",
        f'SELECT (SELECT email) AS x FROM "{DATASET}"',
    ):
        [column] = lineage_of(sql).columns.values()
        assert {s.column for s in column.sources} == everything and not column.identity, sql
    assert lineage_of(f'SELECT count(*) AS n FROM "{DATASET}"').columns["n"].sources == []


def test_rows_decided_through_aliases_positions_and_comparisons() -> None:
    masked = Governed(dataset_id=DATASET, masked={"email": "redact"})
    for sql in (
        f"SELECT email AS e, city FROM \"{DATASET}\" WHERE e LIKE 'a%'",
        f'SELECT email AS e, city FROM "{DATASET}" ORDER BY e',
        f'SELECT city, email AS e FROM "{DATASET}" ORDER BY 2',
        f'SELECT email AS e, city FROM "{DATASET}" ORDER BY ALL',
        f'SELECT email AS e, count(*) AS k FROM "{DATASET}" GROUP BY 1',
        f'SELECT email AS e, count(*) AS k FROM "{DATASET}" GROUP BY ALL',
        f'SELECT DISTINCT email AS e FROM "{DATASET}"',
        f"SELECT email AS e FROM \"{DATASET}\" UNION SELECT 'x'",
        f'WITH g AS (SELECT email AS city FROM "{DATASET}") SELECT 1 AS one FROM g ORDER BY city',
        f'SELECT city FROM "{DATASET}" AS c ORDER BY c',
        f"SELECT city FROM \"{DATASET}\" NATURAL JOIN (SELECT 'x' AS email) AS m",
    ):
        job = JobLineage(inputs=[DATASET], lineage=lineage_of(sql))
        assert inherit(Governed(dataset_id=uuid.uuid4()), job, {DATASET: masked}).derived_denied
    # Not decided by the email: shown (masked).
    for sql in (
        f'SELECT email AS e, city FROM "{DATASET}" ORDER BY 2',
        f"SELECT email AS e, city FROM \"{DATASET}\" UNION ALL SELECT 'x', 'y'",
        f'SELECT city, count(*) AS k FROM "{DATASET}" GROUP BY 1 ORDER BY 2',
    ):
        job = JobLineage(inputs=[DATASET], lineage=lineage_of(sql))
        shown = inherit(Governed(dataset_id=uuid.uuid4()), job, {DATASET: masked})
        assert not shown.derived_denied, sql


def test_a_relation_read_twice_keeps_no_row_filter_through() -> None:
    """A self-join, a CTE read twice, a subquery over the same relation: the reader's filter
    would hold for one read only."""
    extra = Governed(
        dataset_id=DATASET, row_filters=[{"column": "city", "op": "==", "value": "Berlin"}]
    )
    for sql in (
        f'SELECT a.city, b.customerID FROM "{DATASET}" a JOIN "{DATASET}" b ON a.n = 1',
        f'WITH g AS (SELECT * FROM "{DATASET}") SELECT a.city, b.email FROM g a, g b',
        f'SELECT city, (SELECT x.email FROM "{DATASET}" x WHERE x.n = 7) AS other FROM "{DATASET}"',
        f'SELECT city FROM "{DATASET}" WHERE EXISTS (SELECT 1 FROM "{DATASET}" x WHERE x.n = 7)',
    ):
        lineage = lineage_of(sql)
        assert not lineage.row_preserving, sql
        job = JobLineage(inputs=[DATASET], lineage=lineage)
        assert inherit(Governed(dataset_id=uuid.uuid4()), job, {DATASET: extra}).derived_denied


def test_row_filters_go_through_row_preserving_results_only() -> None:
    result = uuid.uuid4()
    extra = Governed(
        dataset_id=DATASET, row_filters=[{"column": "city", "op": "==", "value": "Berlin"}]
    )
    kept = JobLineage(
        inputs=[DATASET],
        lineage=lineage_of(f'SELECT city AS town, email FROM "{DATASET}" WHERE n > 0'),
    )
    shown = inherit(Governed(dataset_id=result), kept, {DATASET: extra})
    assert [(f.column, f.value) for f in shown.row_filters] == [("town", "Berlin")]
    assert not shown.derived_denied
    for sql in (
        f'SELECT city, count(*) AS n FROM "{DATASET}" GROUP BY city',  # an aggregate
        f'SELECT email FROM "{DATASET}"',  # the filtered column is not in the result
        f'SELECT city, sum(n) OVER () AS total FROM "{DATASET}"',  # a window over all rows
        f'SELECT city FROM "{DATASET}" ORDER BY n LIMIT 3',  # a top-N over all rows
    ):
        job = JobLineage(inputs=[DATASET], lineage=lineage_of(sql))
        assert inherit(Governed(dataset_id=result), job, {DATASET: extra}).derived_denied, sql
    # Rows decided by a column the reader may not see: the result tells about it.
    masked = Governed(dataset_id=DATASET, masked={"email": "redact"})
    job = JobLineage(
        inputs=[DATASET],
        lineage=lineage_of(f"SELECT city FROM \"{DATASET}\" WHERE email = 'x@example.com'"),
    )
    assert inherit(Governed(dataset_id=result), job, {DATASET: masked}).derived_denied
    # The same policies as the submitter's: nothing more to apply.
    same = JobLineage(
        inputs=[DATASET],
        pinned={DATASET: extra},
        lineage=lineage_of(f'SELECT city, count(*) AS n FROM "{DATASET}" GROUP BY city'),
    )
    assert inherit(Governed(dataset_id=result), same, {DATASET: extra}) == Governed(
        dataset_id=result
    )
    with pytest.raises(Forbidden) as refused:
        apply_to_table(pa.table({"city": ["x"]}), Governed(dataset_id=result, derived_denied=True))
    assert refused.value.error_code == "derived_from_governed_data"


def test_hash_masks_are_keyed_per_workspace_and_never_unkeyed(customers: pa.Table) -> None:
    governed = Governed(dataset_id=DATASET, workspace_id=WORKSPACE, masked={"city": "hash"})
    with pytest.raises(ConfigurationError):
        apply_to_table(customers, governed)  # no key: no hash, never an unkeyed one
    settings = Settings(auth=AuthSettings(jwt_private_key=None), connectors=ConnectorSettings())
    with pytest.raises(ConfigurationError):
        hash_key(settings, governed)  # no platform secret: no key
    assert hash_key(settings, Governed(dataset_id=DATASET, masked={"city": "redact"})) is None
    with pytest.raises(ConfigurationError):
        hash_key(Settings(), governed.model_copy(update={"workspace_id": None}))

    signing = Settings(
        auth=AuthSettings(jwt_private_key=SecretStr("pem of the signing key")),
        connectors=ConnectorSettings(),
    )
    key = hash_key(signing, governed)
    assert key is not None and len(key) == 32
    assert key == workspace_hash_key(signing, WORKSPACE) != workspace_hash_key(signing, OTHER)
    # The data-source secrets key, when set, is the root instead of the signing key; set to
    # the one derived from the signing key (before rotating that), it keeps the digests.
    other = ConnectorSettings(secrets_key=SecretStr(Fernet.generate_key().decode()))
    assert workspace_hash_key(signing.model_copy(update={"connectors": other}), WORKSPACE) != key
    pinned = ConnectorSettings(
        secrets_key=SecretStr(_derived_key(b"pem of the signing key").decode())
    )
    assert workspace_hash_key(signing.model_copy(update={"connectors": pinned}), WORKSPACE) == key

    cities = customers.column("city")
    mine = apply_to_table(customers, governed, key).column("city").to_pylist()
    theirs = apply_to_table(customers, governed, workspace_hash_key(signing, OTHER))
    # Equal values, equal digests (masked keys still join and count); not across workspaces.
    assert len(set(mine)) == len(set(cities.to_pylist()))
    for value, digest in zip(cities.to_pylist(), mine, strict=True):
        assert digest == mine[cities.to_pylist().index(value)]
    assert not set(mine) & set(theirs.column("city").to_pylist())
    assert not set(mine) & {hashlib.sha256(c.encode()).hexdigest()[:16] for c in cities.to_pylist()}
