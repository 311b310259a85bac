"""Reading the file formats a dataset may come from, with errors a person can act on.

CSV, JSON Lines, Parquet, Arrow IPC (file or stream) and Excel workbooks become one Arrow
table. A malformed CSV row is never dropped silently: by default the whole file is refused with
the physical line number of every bad row (up to a limit); with ``on_invalid_rows="skip"`` the
good rows are kept and the bad ones are reported back, so the caller records them with the
dataset version.

Text files as people have them (:mod:`rivergen.textfiles`): their encoding found, binary
bytes refused, a CSV's delimiter and decimal separator sniffed unless given. What was chosen is
returned with the table (``read_as``).
"""

from __future__ import annotations

import codecs
import io
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as paipc
import pyarrow.json as pajson
import pyarrow.parquet as pq
from pydantic import BaseModel, Field, field_validator

from rivergen.errors import BadRequest, ValidationFailed
from rivergen.textfiles import as_utf8, sniff_csv

MAX_REPORTED_ROWS = 100


class DataFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"
    ARROW = "arrow"
    XLSX = "xlsx"


_EXTENSIONS = {
    ".csv": DataFormat.CSV,
    ".tsv": DataFormat.CSV,
    ".txt": DataFormat.CSV,
    ".jsonl": DataFormat.JSONL,
    ".ndjson": DataFormat.JSONL,
    ".parquet": DataFormat.PARQUET,
    ".pq": DataFormat.PARQUET,
    ".arrow": DataFormat.ARROW,
    ".feather": DataFormat.ARROW,
    ".ipc": DataFormat.ARROW,
    ".arrows": DataFormat.ARROW,
    ".xlsx": DataFormat.XLSX,
    ".xlsm": DataFormat.XLSX,
    ".xls": DataFormat.XLSX,
    ".ods": DataFormat.XLSX,
}
_CONTENT_TYPES = {
    "text/csv": DataFormat.CSV,
    "text/tab-separated-values": DataFormat.CSV,
    "application/x-ndjson": DataFormat.JSONL,
    "application/jsonl": DataFormat.JSONL,
    "application/vnd.apache.parquet": DataFormat.PARQUET,
    "application/vnd.apache.arrow.file": DataFormat.ARROW,
    "application/vnd.apache.arrow.stream": DataFormat.ARROW,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": DataFormat.XLSX,
    "application/vnd.ms-excel": DataFormat.XLSX,
}
_TEXT_FORMATS = (DataFormat.CSV, DataFormat.JSONL)


class ParseOptions(BaseModel):
    """How to read a file. Every field has a default that suits the common case."""

    format: DataFormat | None = Field(
        None,
        description="csv, jsonl, parquet, arrow or xlsx (an Excel workbook); detected from the "
        "content when unset.",
    )
    delimiter: str | None = Field(
        None,
        min_length=1,
        max_length=1,
        description="CSV delimiter; sniffed from the file's start when unset (',', ';', tab or "
        "'|'; tab for .tsv).",
    )
    encoding: str | None = Field(
        None,
        min_length=1,
        max_length=40,
        description="Text encoding of a CSV or JSON Lines file (utf-8, latin-1, cp1252, utf-16, "
        "...); when unset, a byte-order mark's, else UTF-8 if the bytes are, else the likeliest.",
    )
    decimal: Literal[".", ","] | None = Field(
        None,
        description="CSV decimal separator; when unset, a comma if the delimiter is not one and "
        "the numbers are written so (1,5), else a point.",
    )
    sheet: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Excel workbook: the sheet to read, by name (the first when unset).",
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        try:
            return None if value is None else codecs.lookup(value).name
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None

    header: bool = Field(True, description="CSV: the first line names the columns.")
    null_values: list[str] | None = Field(
        None,
        max_length=50,
        description="CSV tokens read as null (default: '', NULL, null, NA, N/A, NaN, ...).",
    )
    on_invalid_rows: Literal["fail", "skip"] = Field(
        "fail",
        description="CSV rows with the wrong number of fields: refuse the file (default) or keep "
        "the good rows and record the bad ones with the version.",
    )


class InvalidRow(BaseModel):
    line: int | None = Field(description="Physical line number in the file (1 = first line).")
    expected_columns: int
    actual_columns: int
    text: str = Field(description="The start of the line as read.")


@dataclass
class ParsedTable:
    table: pa.Table
    format: DataFormat
    invalid_rows: list[InvalidRow] = field(default_factory=list)
    invalid_row_count: int = 0
    # How the file was read where it was a choice (encoding, delimiter, quote, decimal, sheet).
    read_as: dict[str, str] = field(default_factory=dict)


def detect_format(name: str, content_type: str | None, head: bytes) -> DataFormat:
    """The format of a file from its magic bytes, then its name, then its content type."""
    if head.startswith(b"PAR1"):
        return DataFormat.PARQUET
    if head.startswith(b"ARROW1") or head.startswith(b"\xff\xff\xff\xff"):
        return DataFormat.ARROW
    lowered = name.lower()
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")) and lowered.endswith(
        (".xlsx", ".xlsm", ".xls", ".ods")
    ):
        return DataFormat.XLSX
    for extension, found in _EXTENSIONS.items():
        if lowered.endswith(extension):
            return found
    if content_type and content_type.split(";")[0].strip() in _CONTENT_TYPES:
        return _CONTENT_TYPES[content_type.split(";")[0].strip()]
    raise BadRequest(
        f"cannot tell the format of {name!r}: name it .csv, .jsonl, .parquet, .arrow or .xlsx, "
        "or pass `format`",
        code="unknown_format",
        details={"file": name, "supported": [f.value for f in DataFormat]},
    )


def parse(data: bytes, name: str, content_type: str | None, options: ParseOptions) -> ParsedTable:
    """Read ``data`` (the whole file) as one Arrow table, or raise an error naming the file,
    and where it can, the line and column at fault."""
    if not data.strip():
        raise BadRequest(f"{name!r} is empty: there is nothing to import", code="empty_file")
    fmt = options.format or detect_format(name, content_type, data[:8])
    read_as: dict[str, str] = {}
    if fmt in _TEXT_FORMATS:
        data, read_as["encoding"] = as_utf8(data, name, options.encoding)
    try:
        if fmt is DataFormat.CSV:
            parsed = _read_csv(data, name, options)
            parsed.read_as = read_as | parsed.read_as
            return parsed
        if fmt is DataFormat.JSONL:
            return ParsedTable(_read_jsonl(data, name), fmt, read_as=read_as)
        if fmt is DataFormat.PARQUET:
            return ParsedTable(pq.read_table(pa.BufferReader(data)), fmt)
        if fmt is DataFormat.XLSX:
            table, sheet = _read_workbook(data, name, options.sheet)
            return ParsedTable(table, fmt, read_as={"sheet": sheet})
        return ParsedTable(_read_arrow(data), fmt)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise ValidationFailed(
            f"{name!r} is not valid {fmt.value}: {exc}",
            code="invalid_file",
            details={"file": name, "format": fmt.value},
        ) from exc


def _read_arrow(data: bytes) -> pa.Table:
    if data.startswith(b"ARROW1"):
        return paipc.open_file(pa.BufferReader(data)).read_all()
    return paipc.open_stream(pa.BufferReader(data)).read_all()


def _csv_options(options: ParseOptions) -> tuple[pacsv.ReadOptions, pacsv.ConvertOptions]:
    read = pacsv.ReadOptions(autogenerate_column_names=not options.header)
    # Null tokens in text columns too: published data writes NULL for a missing string.
    convert = pacsv.ConvertOptions(strings_can_be_null=True)
    if options.null_values is not None:
        convert.null_values = options.null_values
    return read, convert


def _read_csv(data: bytes, name: str, options: ParseOptions) -> ParsedTable:
    delimiter, decimal = sniff_csv(data, name, options.delimiter, options.decimal)
    read, convert = _csv_options(options)
    convert.decimal_point = decimal
    invalid: list[InvalidRow] = []
    count = 0

    def on_invalid(row: Any) -> str:
        nonlocal count
        count += 1
        if len(invalid) < MAX_REPORTED_ROWS:
            invalid.append(
                InvalidRow(
                    line=row.number,
                    expected_columns=row.expected_columns,
                    actual_columns=row.actual_columns,
                    text=row.text[:200],
                )
            )
        return "skip"

    def read_with(use_threads: bool) -> pa.Table:
        nonlocal count
        invalid.clear()
        count = 0
        read.use_threads = use_threads
        parse_options = pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid)
        return pacsv.read_csv(
            io.BytesIO(data),
            read_options=read,
            parse_options=parse_options,
            convert_options=convert,
        )

    table = read_with(use_threads=True)
    if invalid and any(row.line is None for row in invalid):
        # The parallel reader does not know line numbers: read again, serially, to name them.
        table = read_with(use_threads=False)
    if count and options.on_invalid_rows == "fail":
        lines = [row.line for row in invalid]
        raise ValidationFailed(
            f"{name!r} has {count} malformed row(s) (wrong number of fields), at line(s) "
            f"{', '.join(str(n) for n in lines[:10])}{' ...' if count > 10 else ''}; fix them "
            'or import with "on_invalid_rows": "skip" to keep the other rows',
            code="malformed_rows",
            details={
                "file": name,
                "invalid_row_count": count,
                "invalid_rows": [row.model_dump() for row in invalid],
            },
        )
    read_as = {"delimiter": delimiter, "decimal": decimal}
    return ParsedTable(table, DataFormat.CSV, list(invalid), count, read_as)


def _read_workbook(data: bytes, name: str, sheet: str | None) -> tuple[pa.Table, str]:
    """One sheet of an Excel (or OpenDocument) workbook, its first row naming the columns; a
    column of mixed kinds of values is read as text."""
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # the reader's own error types (not a workbook, encrypted, ...)
        raise ValidationFailed(
            f"{name!r} is not a workbook it can read: {exc}",
            code="invalid_file",
            details={"file": name, "format": DataFormat.XLSX.value},
        ) from None
    names = list(book.sheet_names)
    chosen = sheet if sheet is not None else (names[0] if names else None)
    if chosen is None or chosen not in names:
        raise ValidationFailed(
            f"{name!r} has no sheet {chosen!r} (sheets: {', '.join(names) or 'none'})",
            code="sheet_not_found",
            details={"file": name, "sheet": chosen, "sheets": names},
        )
    rows = book.get_sheet_by_name(chosen).to_python(skip_empty_area=True)
    if not rows:
        raise BadRequest(f"sheet {chosen!r} of {name!r} is empty", code="empty_file")
    header, body = rows[0], rows[1:]
    names_seen = [str(h).strip() if h not in (None, "") else "" for h in header]
    columns = {}
    for index, column in enumerate(names_seen):
        values = [row[index] if index < len(row) and row[index] != "" else None for row in body]
        columns[column or f"column_{index + 1}"] = _sheet_column(values)
    return pa.table(columns), chosen


def _sheet_column(values: list[Any]) -> pa.Array:
    kinds = {type(v) for v in values if v is not None}
    if kinds == {float, int}:
        values = [float(v) if v is not None else None for v in values]
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds: as text
        return pa.array([_text(v) for v in values], pa.string())


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _read_jsonl(data: bytes, name: str) -> pa.Table:
    try:
        return pajson.read_json(io.BytesIO(data))
    except pa.ArrowInvalid as exc:
        # Arrow numbers rows within a block; find the real line and column to report.
        raise _locate_json_error(data, name, exc) from exc


def _locate_json_error(data: bytes, name: str, exc: Exception) -> ValidationFailed:
    kinds: dict[str, tuple[str, int]] = {}
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError as error:
            return ValidationFailed(
                f"{name!r} line {number} is not valid JSON: {error}",
                code="invalid_json",
                details={"file": name, "line": number},
            )
        if not isinstance(record, dict):
            return ValidationFailed(
                f"{name!r} line {number} is not a JSON object",
                code="invalid_json",
                details={"file": name, "line": number},
            )
        for column, value in record.items():
            kind = _json_kind(value)
            if kind == "null":
                continue
            seen = kinds.setdefault(column, (kind, number))
            if seen[0] != kind and {seen[0], kind} != {"int", "float"}:
                return ValidationFailed(
                    f"{name!r} line {number}, column {column!r}: a {kind} where line "
                    f"{seen[1]} has a {seen[0]}",
                    code="mixed_types",
                    details={"file": name, "line": number, "column": column},
                )
    return ValidationFailed(
        f"{name!r} is not valid JSON Lines: {exc}", code="invalid_json", details={"file": name}
    )


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "object"
