"""Reading files into tables: formats, options and the errors a person can act on."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rivergen.datasets.formats import DataFormat, ParseOptions, detect_format, parse
from rivergen.datasets.search import query_terms, tsquery, words
from rivergen.errors import BadRequest, ValidationFailed
from tests.conftest import SHARED_DATA


def test_format_from_magic_bytes_before_the_name() -> None:
    sink = io.BytesIO()
    pq.write_table(pa.table({"a": [1]}), sink)
    assert detect_format("data.csv", None, sink.getvalue()[:8]) is DataFormat.PARQUET
    assert detect_format("x.TSV", None, b"a\tb") is DataFormat.CSV
    assert detect_format("export", "application/x-ndjson", b"{}") is DataFormat.JSONL
    with pytest.raises(BadRequest) as refused:
        detect_format("export.xlsx", "application/octet-stream", b"PK\x03\x04")
    assert refused.value.error_code == "unknown_format"


def test_csv_options_delimiter_header_and_null_tokens() -> None:
    data = b"1;x;-\n2;y;3\n"
    parsed = parse(
        data, "t.csv", None, ParseOptions(delimiter=";", header=False, null_values=["-"])
    )
    assert parsed.table.column_names == ["f0", "f1", "f2"]
    assert parsed.table.column("f2").to_pylist() == [None, 3]


def test_malformed_rows_are_refused_with_line_numbers_or_kept_aside() -> None:
    data = b"a,b\n1,2\n3,4,5\n6,7\n8\n"
    with pytest.raises(ValidationFailed) as refused:
        parse(data, "t.csv", None, ParseOptions())
    details = refused.value.details
    assert refused.value.error_code == "malformed_rows"
    assert [r["line"] for r in details["invalid_rows"]] == [3, 5]
    kept = parse(data, "t.csv", None, ParseOptions(on_invalid_rows="skip"))
    assert kept.table.column("a").to_pylist() == [1, 6]
    assert kept.invalid_row_count == 2


def test_published_northwind_products_parse_cleanly() -> None:
    data = (SHARED_DATA / "northwind" / "products.csv").read_bytes()
    parsed = parse(data, "products.csv", "text/csv", ParseOptions())
    assert parsed.table.num_rows == 77 and parsed.invalid_row_count == 0


def test_search_words_split_compound_names_and_queries_are_safe() -> None:
    assert words("customerID unit_price") == "customer id customerid unit price unitprice"
    terms = query_terms("Which datasets: churn & 'x' | !y")
    assert terms == ["which", "datasets", "churn", "x", "y"]
    assert tsquery(terms) == "which:* | datasets:* | churn:* | x:* | y:*"
