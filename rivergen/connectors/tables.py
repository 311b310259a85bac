"""Bytes of a CSV or Parquet file into Arrow, and many tables into one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rivergen.errors import BadRequest
from rivergen.textfiles import as_utf8, sniff_csv

FileFormat = Literal["parquet", "csv"]


def parse(data: bytes, file_format: FileFormat, name: str) -> pa.Table:
    """One file's table; a file that does not parse is 400 ``invalid_csv``/``invalid_parquet``."""
    try:
        if file_format == "parquet":
            return pq.read_table(pa.BufferReader(data))
        # Text as people have it: its encoding, delimiter and decimal separator found as an
        # upload's are (rivergen.textfiles).
        data, _ = as_utf8(data, name)
        delimiter, decimal = sniff_csv(data, name)
        if data and not data.endswith(b"\n"):
            # Arrow reads a header-only file as empty unless its line is terminated.
            data += b"\n"
        return pacsv.read_csv(
            pa.BufferReader(data),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(decimal_point=decimal),
        )
    except (pa.ArrowException, OSError) as exc:
        raise BadRequest(
            f"{name} is not valid {file_format}: {str(exc).splitlines()[0]}",
            code=f"invalid_{file_format}",
            details={"object": name},
        ) from exc


def concat(tables: Sequence[tuple[str, pa.Table]]) -> pa.Table:
    """One table of many: columns matched by name, a column missing from a file is null, and
    types widen where Arrow can (int64 + float64 -> float64); anything else is 400
    ``schema_mismatch`` naming the two files."""
    if len(tables) == 1:
        return tables[0][1]
    first_name, first = tables[0]
    unified = first.schema
    for name, table in tables[1:]:
        try:
            unified = pa.unify_schemas([unified, table.schema], promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise BadRequest(
                f"{name} does not match the objects before it (from {first_name}): "
                f"{str(exc).splitlines()[0]}",
                code="schema_mismatch",
                details={"objects": [first_name, name]},
            ) from exc
    return pa.concat_tables([t for _, t in tables], promote_options="permissive")
