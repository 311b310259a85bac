"""Reading the file formats a dataset may come from, with errors a person can act on.

CSV, JSON Lines, Parquet and Arrow IPC (file or stream) become one Arrow table. A malformed CSV
row is never dropped silently: by default the whole file is refused with the physical line
number of every bad row (up to a limit); with ``on_invalid_rows="skip"`` the good rows are kept
and the bad ones are reported back, so the caller records them with the dataset version.
"""

from __future__ import annotations

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
from pydantic import BaseModel, Field

from rivergen.errors import BadRequest, ValidationFailed

MAX_REPORTED_ROWS = 100


class DataFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"
    ARROW = "arrow"


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
}
_CONTENT_TYPES = {
    "text/csv": DataFormat.CSV,
    "text/tab-separated-values": DataFormat.CSV,
    "application/x-ndjson": DataFormat.JSONL,
    "application/jsonl": DataFormat.JSONL,
    "application/vnd.apache.parquet": DataFormat.PARQUET,
    "application/vnd.apache.arrow.file": DataFormat.ARROW,
    "application/vnd.apache.arrow.stream": DataFormat.ARROW,
}


class ParseOptions(BaseModel):
    """How to read a file. Every field has a default that suits the common case."""

    format: DataFormat | None = Field(
        None, description="csv, jsonl, parquet or arrow; detected from the content when unset."
    )
    delimiter: str | None = Field(
        None, min_length=1, max_length=1, description="CSV delimiter (default ',' or tab for .tsv)."
    )
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


def detect_format(name: str, content_type: str | None, head: bytes) -> DataFormat:
    """The format of a file from its magic bytes, then its name, then its content type."""
    if head.startswith(b"PAR1"):
        return DataFormat.PARQUET
    if head.startswith(b"ARROW1") or head.startswith(b"\xff\xff\xff\xff"):
        return DataFormat.ARROW
    lowered = name.lower()
    for extension, found in _EXTENSIONS.items():
        if lowered.endswith(extension):
            return found
    if content_type and content_type.split(";")[0].strip() in _CONTENT_TYPES:
        return _CONTENT_TYPES[content_type.split(";")[0].strip()]
    raise BadRequest(
        f"cannot tell the format of {name!r}: name it .csv, .jsonl, .parquet or .arrow, or pass "
        "`format`",
        code="unknown_format",
        details={"file": name, "supported": [f.value for f in DataFormat]},
    )


def parse(data: bytes, name: str, content_type: str | None, options: ParseOptions) -> ParsedTable:
    """Read ``data`` (the whole file) as one Arrow table, or raise an error naming the file,
    and where it can, the line and column at fault."""
    if not data.strip():
        raise BadRequest(f"{name!r} is empty: there is nothing to import", code="empty_file")
    fmt = options.format or detect_format(name, content_type, data[:8])
    try:
        if fmt is DataFormat.CSV:
            return _read_csv(data, name, options)
        if fmt is DataFormat.JSONL:
            return ParsedTable(_read_jsonl(data, name), fmt)
        if fmt is DataFormat.PARQUET:
            return ParsedTable(pq.read_table(pa.BufferReader(data)), fmt)
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
    delimiter = options.delimiter or ("\t" if name.lower().endswith(".tsv") else ",")
    read, convert = _csv_options(options)
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
            io.BytesIO(data), read_options=read, parse_options=parse_options,
            convert_options=convert,
        )  # fmt: skip

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
    return ParsedTable(table, DataFormat.CSV, list(invalid), count)


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
