"""What a data source may reach and what it may run, decided without any server."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr, ValidationError

from rivergen.connectors import SOURCE_CONFIG, PostgresSource, redacted
from rivergen.connectors.addresses import blocked_reason, check_destination, is_allow_listed
from rivergen.connectors.secrets import SEALED_PREFIX, SecretBox
from rivergen.connectors.sql import QueryRefused, check_read_only_query, table_select
from rivergen.errors import ConfigurationError, Forbidden, RiverGenError
from rivergen.settings import AuthSettings, ConnectorSettings, Settings


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link_local"),
        ("169.254.0.1", "link_local"),
        ("fe80::1", "link_local"),
        ("fe80::1%1", "link_local"),
        ("100.64.0.1", "shared"),
        ("100.127.255.255", "shared"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.10", "reserved"),
        ("2001:db8::1", "reserved"),
        # IPv6 forms that carry an IPv4 address are judged by that address.
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link_local"),
        ("::ffff:10.1.2.3", "private"),
        ("::127.0.0.1", "loopback"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", "link_local"),  # 6to4 of 169.254.169.254
        ("64:ff9b::a9fe:a9fe", "link_local"),  # NAT64 of 169.254.169.254
        ("64:ff9b::7f00:1", "loopback"),
    ],
)
def test_non_public_addresses_are_refused_with_their_reason(address: str, reason: str) -> None:
    assert blocked_reason(address) == reason


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "172.32.0.1",
        "100.128.0.1",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "2002:808:808::1",
        "64:ff9b::808:808",
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(address) is None


def test_allow_list_matches_a_host_or_a_host_and_port() -> None:
    allow = ["data.internal", "127.0.0.1:8080", "[::1]:9000", "Files.Example.COM."]
    assert is_allow_listed("data.internal", 443, allow)
    assert is_allow_listed("DATA.internal.", 80, allow)
    assert is_allow_listed("127.0.0.1", 8080, allow)
    assert not is_allow_listed("127.0.0.1", 8081, allow)
    assert is_allow_listed("::1", 9000, allow) and is_allow_listed("[::1]", 9000, allow)
    assert not is_allow_listed("::1", 9001, allow)
    assert is_allow_listed("files.example.com", 1, allow)
    assert not is_allow_listed("other.internal", 80, allow)


async def test_names_are_judged_by_what_they_resolve_to() -> None:
    # Every spelling of loopback resolves to it (getaddrinfo reads the legacy IPv4 forms).
    for host in ["localhost", "127.1", "2130706433", "0x7f000001", "127.0.0.1.", "::ffff:7f00:1"]:
        with pytest.raises(Forbidden) as refused:
            await check_destination(host, 80, [])
        assert refused.value.error_code == "destination_not_allowed", host
    allowed = await check_destination("localhost", 8080, ["localhost:8080"])
    assert allowed.allow_listed and blocked_reason(allowed.address) == "loopback"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("DELETE FROM products", "query_not_read_only"),
        ("SELECT 1; DROP TABLE products", "multiple_statements"),
        ("UPDATE products SET price = 0", "query_not_read_only"),
        (
            "WITH gone AS (DELETE FROM products RETURNING *) SELECT * FROM gone",
            "query_not_read_only",
        ),
        ("SELECT * INTO copy FROM products", "query_not_read_only"),
        ("SELECT * FROM products FOR UPDATE", "query_not_read_only"),
        ("COPY products TO STDOUT", "query_not_read_only"),
        ("CREATE TABLE x (a int)", "query_not_read_only"),
        ("VACUUM", "query_not_read_only"),
        ("SET statement_timeout = 0", "query_not_read_only"),
        ("SELECT * FROM products WHERE id = $1", "invalid_query"),
        ("SELEC * FROM", "invalid_query"),
    ],
)
def test_only_one_read_only_select_is_accepted(query: str, code: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        check_read_only_query(query)
    assert refused.value.error_code == code


def test_selects_pass_and_table_names_are_quoted() -> None:
    assert check_read_only_query("SELECT a FROM t UNION SELECT b FROM u;") == (
        "SELECT a FROM t UNION SELECT b FROM u"
    )
    assert check_read_only_query("WITH x AS (SELECT 1 AS a) SELECT a FROM x")
    assert table_select("Products") == 'SELECT * FROM "products"'
    assert table_select('sales."Order Lines"') == 'SELECT * FROM "sales"."Order Lines"'
    assert table_select("x; DROP TABLE y") == 'SELECT * FROM "x; DROP TABLE y"'
    with pytest.raises(QueryRefused):
        table_select("db.schema.table")


def test_config_is_checked_and_secrets_never_shown() -> None:
    dsn = "postgresql://reader:s3cret-pw@db.example.com:6543/shop?sslmode=require"
    config = SOURCE_CONFIG.validate_python({"kind": "postgres", "dsn": dsn, "table": "orders"})
    assert isinstance(config, PostgresSource)
    shown = redacted(config)
    assert shown["dsn"] == "postgresql://reader:***@db.example.com:6543/shop"
    assert "s3cret" not in str(shown)
    s3 = SOURCE_CONFIG.validate_python(
        {
            "kind": "s3",
            "bucket": "data",
            "prefix": "p/",
            "format": "csv",
            "access_key_id": "AKIAKEY",
            "secret_access_key": "very-secret",
        }
    )
    assert "AKIAKEY" not in str(redacted(s3)) and "very-secret" not in str(redacted(s3))
    for bad, code in [
        ({"kind": "postgres", "dsn": dsn}, "table_or_query"),
        ({"kind": "postgres", "dsn": dsn, "table": "a", "query": "SELECT 1"}, "table_or_query"),
        ({"kind": "postgres", "dsn": dsn, "query": "DELETE FROM a"}, "query_not_read_only"),
        (
            {
                "kind": "postgres",
                "dsn": "postgresql://u@/db?host=/var/run/postgresql",
                "table": "a",
            },
            "invalid_dsn",
        ),
        ({"kind": "postgres", "dsn": "postgresql://u@a,b/db", "table": "a"}, "invalid_dsn"),
        ({"kind": "http_csv", "url": "file:///etc/passwd"}, "scheme_not_allowed"),
        ({"kind": "http_csv", "url": "gopher://example.com/"}, "scheme_not_allowed"),
        (
            {"kind": "s3", "bucket": "data", "format": "csv", "access_key_id": "x"},
            "incomplete_credentials",
        ),
        ({"kind": "ftp", "url": "ftp://example.com/a.csv"}, "union_tag_invalid"),
    ]:
        with pytest.raises(ValidationError) as invalid:
            SOURCE_CONFIG.validate_python(bad)
        assert invalid.value.errors()[0]["type"] == code, bad


def test_secrets_are_sealed_with_the_configured_or_derived_key() -> None:
    signing = Settings(auth=AuthSettings(jwt_private_key=SecretStr("pem of the signing key")))
    box = SecretBox.from_settings(signing)
    sealed = box.seal("postgresql://u:pw@db/x")
    assert sealed.startswith(SEALED_PREFIX) and "pw@" not in sealed
    assert SecretBox.from_settings(signing).open(sealed) == "postgresql://u:pw@db/x"
    own = Settings(
        connectors=ConnectorSettings(secrets_key=SecretStr(Fernet.generate_key().decode()))
    )
    with pytest.raises(RiverGenError) as mismatch:
        SecretBox.from_settings(own).open(sealed)
    assert mismatch.value.error_code == "secrets_key_mismatch"
    with pytest.raises(ConfigurationError):
        SecretBox.from_settings(Settings(auth=AuthSettings(jwt_private_key=None)))
