"""Arrow types from the strings the catalog records (``str(pa.DataType)``)."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pyarrow as pa

_SIMPLE: dict[str, pa.DataType] = {
    "null": pa.null(),
    "bool": pa.bool_(),
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "uint8": pa.uint8(),
    "uint16": pa.uint16(),
    "uint32": pa.uint32(),
    "uint64": pa.uint64(),
    "halffloat": pa.float16(),
    "float": pa.float32(),
    "double": pa.float64(),
    "string": pa.string(),
    "large_string": pa.large_string(),
    "binary": pa.binary(),
    "large_binary": pa.large_binary(),
    "date32[day]": pa.date32(),
    "date64[ms]": pa.date64(),
}
_TIMESTAMP = re.compile(r"timestamp\[(s|ms|us|ns)(?:, tz=(.+))?\]")
_TIME = re.compile(r"time(32|64)\[(s|ms|us|ns)\]")
_DURATION = re.compile(r"duration\[(s|ms|us|ns)\]")
_DECIMAL = re.compile(r"decimal(?:128|256)?\((\d+), ?(-?\d+)\)")


def arrow_type(text: str) -> pa.DataType | None:
    """The Arrow type a catalog string names; None for one it does not read (nested types)."""
    text = text.strip()
    if text in _SIMPLE:
        return _SIMPLE[text]
    if m := _TIMESTAMP.fullmatch(text):
        return pa.timestamp(m.group(1), tz=m.group(2))
    if m := _TIME.fullmatch(text):
        return pa.time32(m.group(2)) if m.group(1) == "32" else pa.time64(m.group(2))
    if m := _DURATION.fullmatch(text):
        return pa.duration(m.group(1))
    if m := _DECIMAL.fullmatch(text):
        precision, scale = int(m.group(1)), int(m.group(2))
        return (
            pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
        )
    return None


def arrow_schema(types: Mapping[str, str]) -> pa.Schema | None:
    """The schema of these columns; None if a type is not one :func:`arrow_type` reads."""
    fields = []
    for name, kind in types.items():
        found = arrow_type(kind)
        if found is None:
            return None
        fields.append(pa.field(name, found))
    return pa.schema(fields)
