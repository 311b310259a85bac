"""Reading files into tables: formats, options and the errors a person can act on."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rivergen.datasets.formats import DataFormat, ParseOptions, detect_format, parse
from rivergen.datasets.search import query_terms, tsquery, words
from rivergen.errors import BadRequest, ValidationFailed
from rivergen.textfiles import as_utf8
from tests.conftest import SHARED_DATA


def test_format_from_magic_bytes_before_the_name() -> None:
    sink = io.BytesIO()
    pq.write_table(pa.table({"a": [1]}), sink)
    assert detect_format("data.csv", None, sink.getvalue()[:8]) is DataFormat.PARQUET
    assert detect_format("x.TSV", None, b"a\tb") is DataFormat.CSV
    assert detect_format("export", "application/x-ndjson", b"{}") is DataFormat.JSONL
    assert detect_format("export.xlsx", "application/octet-stream", b"PK\x03\x04") is (
        DataFormat.XLSX
    )
    with pytest.raises(BadRequest) as refused:
        detect_format("export.zip", "application/octet-stream", b"PK\x03\x04")
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


# Files as people have them -------------------------------------------------------------------

ROWS = "name,city,amount\nZoë,Köln,1.5\nJosé,São Paulo,2\nFrançois,Besançon,3\nÅsa,Malmö,4\n"
EXPECTED = {
    "name": ["Zoë", "José", "François", "Åsa"],
    "city": ["Köln", "São Paulo", "Besançon", "Malmö"],
    "amount": [1.5, 2.0, 3.0, 4.0],
}


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (ROWS.encode("latin-1"), "cp1252"),
        (ROWS.encode("cp1252"), "cp1252"),
        (ROWS.encode("utf-16"), "utf-16"),  # with its byte-order mark (this machine's order)
        (b"\xff\xfe" + ROWS.encode("utf-16-le"), "utf-16"),
        (b"\xfe\xff" + ROWS.encode("utf-16-be"), "utf-16"),
        (ROWS.encode("utf-16-le"), "utf-16-le"),  # no mark: every other byte is zero
        (ROWS.encode("utf-8-sig"), "utf-8-sig"),
        (ROWS.encode("utf-8"), "utf-8"),
    ],
)
def test_text_in_any_common_encoding_reads_as_the_same_rows(encoded: bytes, encoding: str) -> None:
    parsed = parse(encoded, "people.csv", None, ParseOptions())
    assert parsed.table.to_pydict() == EXPECTED
    assert parsed.read_as["encoding"] == encoding


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("miasto;rzeka\nŁódź;Wisła\nKraków;Odra\nGdańsk;Motława\n", "cp1250"),
        ("имя;город\nИван;Москва\nОльга;Казань\n", "cp1251"),  # noqa: RUF001
        ("όνομα;πόλη\nΓιάννης;Αθήνα\n", "cp1253"),  # noqa: RUF001
        ("名字,城市\n张伟,北京\n李娜,上海\n", "gb18030"),
        ("Artikel;Preis\nKäse;1,50\n", "cp1252"),
    ],
)
def test_short_files_in_other_code_pages_read_as_words(text: str, encoding: str) -> None:
    """Short files fit several code pages; the one that reads as words wins (a Polish file is
    not read as Windows-1252, a German one not as Big5)."""
    data, found = as_utf8(text.encode(encoding), "t.csv")
    assert data.decode("utf-8") == text
    assert found == encoding


def test_windows_1252_characters_outside_latin_1_are_read_as_written() -> None:
    text = "item,price\n“Euro” sign,€ 5\n"
    parsed = parse(text.encode("cp1252"), "prices.csv", None, ParseOptions())
    assert parsed.table.column("item").to_pylist() == ["“Euro” sign"]
    assert parsed.table.column("price").to_pylist() == ["€ 5"]


def test_the_encoding_can_be_given_and_an_unknown_one_is_refused() -> None:
    text = "a;b\nŁódź;Gdańsk\n"
    parsed = parse(text.encode("cp1250"), "pl.csv", None, ParseOptions(encoding="cp1250"))
    assert parsed.table.to_pydict() == {"a": ["Łódź"], "b": ["Gdańsk"]}
    with pytest.raises(ValueError, match="unknown encoding"):
        ParseOptions(encoding="klingon-8")
    with pytest.raises(ValidationFailed) as refused:  # bytes the given encoding cannot hold
        parse("a\nx\u20ac\n".encode("utf-16-le"), "t.csv", None, ParseOptions(encoding="ascii"))
    assert refused.value.error_code == "unknown_encoding"


def test_a_binary_file_named_csv_is_refused_never_shown_as_text() -> None:
    sink = io.BytesIO()
    pq.write_table(pa.table({"a": list(range(100))}), sink)
    payload = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20
    for data in (payload, sink.getvalue()[4:]):
        with pytest.raises(ValidationFailed) as refused:
            parse(data, "photo.csv", None, ParseOptions())
        assert refused.value.error_code == "binary_file"


def test_semicolons_and_decimal_commas_are_read_without_options() -> None:
    data = "Artikel;Preis;Menge\nKäse;1,50;3\nBrot;2,25;1\n".encode("cp1252")
    parsed = parse(data, "einkauf.csv", None, ParseOptions())
    assert parsed.table.to_pydict() == {
        "Artikel": ["Käse", "Brot"],
        "Preis": [1.5, 2.25],
        "Menge": [3, 1],
    }
    assert parsed.read_as == {"encoding": "cp1252", "delimiter": ";", "decimal": ","}


def test_tabs_are_sniffed_and_commas_inside_quotes_do_not_mislead() -> None:
    tabbed = parse(b"a\tb\n1\tx, y\n2\tz\n", "export.csv", None, ParseOptions())
    assert tabbed.table.to_pydict() == {"a": [1, 2], "b": ["x, y", "z"]}
    assert tabbed.read_as["delimiter"] == "\t"
    quoted = b'note,n\n"a; b; c",1\n"d;e",2\n'
    parsed = parse(quoted, "notes.csv", None, ParseOptions())
    assert parsed.table.to_pydict() == {"note": ["a; b; c", "d;e"], "n": [1, 2]}
    assert parsed.read_as == {"encoding": "utf-8", "delimiter": ",", "decimal": "."}
    # A point decimal keeps a point even with another delimiter.
    points = parse(b"x;y\n1.5;2\n", "p.csv", None, ParseOptions())
    assert points.table.to_pydict() == {"x": [1.5], "y": [2]}


def _workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    sink = io.BytesIO()
    book.save(sink)
    return sink.getvalue()


def test_each_sheet_of_a_workbook_reads_as_its_own_table() -> None:
    data = _workbook(
        {
            "Orders": [["order", "amount", "note"], [1, 9.5, "first"], [2, 12, None]],
            "Customers": [["id", "name"], [10, "Zoë"], [11, "Åsa"]],
        }
    )
    first = parse(data, "book.xlsx", None, ParseOptions())
    assert first.format is DataFormat.XLSX
    assert first.read_as == {"sheet": "Orders"}
    assert first.table.to_pydict() == {
        "order": [1, 2],
        "amount": [9.5, 12.0],
        "note": ["first", None],
    }
    second = parse(data, "book.xlsx", None, ParseOptions(sheet="Customers"))
    assert second.table.to_pydict() == {"id": [10, 11], "name": ["Zoë", "Åsa"]}
    with pytest.raises(ValidationFailed) as refused:
        parse(data, "book.xlsx", None, ParseOptions(sheet="Invoices"))
    assert refused.value.error_code == "sheet_not_found"
    assert refused.value.details["sheets"] == ["Orders", "Customers"]
