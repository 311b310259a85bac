"""Arrow values as JSON-safe Python values, and the families of Arrow types profiling knows.

JSON has numbers, strings, booleans and null; Arrow has many more types. The mapping, which
profiles and rule samples rely on:

- integers, floats, booleans, strings: themselves; a float that is NaN or infinite becomes the
  string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` (JSON has no such numbers);
- decimals: floats (exact up to about 15 significant digits);
- dates: ``"YYYY-MM-DD"``; times: ``"HH:MM:SS[.fraction]"``;
- timestamps: ISO 8601 at the column's own resolution (nanoseconds included, which
  ``datetime`` cannot hold); with a time zone, the local time in that zone and its offset
  (``"2024-03-01T09:30:00+01:00"``), without one, a naive ``"2024-03-01T09:30:00"``;
- durations: the integer count of the column's unit (the unit is in the column's type);
- binary: ``"0x"`` and hex digits;
- lists, structs, maps: lists and objects of the above.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

JsonScalar = bool | int | float | str | None
JsonValue = Any  # a JsonScalar, or lists / dicts of them

_EPOCH = dt.datetime(1970, 1, 1)
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


class Family(StrEnum):
    """How a column is profiled; decided by its Arrow type (dictionaries by their values)."""

    NULL = "null"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    FLOATING = "floating"
    DECIMAL = "decimal"
    STRING = "string"
    BINARY = "binary"
    TEMPORAL = "temporal"  # date, time, timestamp
    DURATION = "duration"
    NESTED = "nested"  # list, struct, map, union: counted, not summarised


def family(type_: pa.DataType) -> Family:  # noqa: C901 - one flat dispatch on the type
    t = pa.types
    if t.is_dictionary(type_):
        return family(type_.value_type)
    if t.is_null(type_):
        return Family.NULL
    if t.is_boolean(type_):
        return Family.BOOLEAN
    if t.is_integer(type_):
        return Family.INTEGER
    if t.is_floating(type_):
        return Family.FLOATING
    if t.is_decimal(type_):
        return Family.DECIMAL
    if t.is_string(type_) or t.is_large_string(type_) or t.is_string_view(type_):
        return Family.STRING
    if (
        t.is_binary(type_)
        or t.is_large_binary(type_)
        or t.is_fixed_size_binary(type_)
        or t.is_binary_view(type_)
    ):
        return Family.BINARY
    if t.is_date(type_) or t.is_time(type_) or t.is_timestamp(type_):
        return Family.TEMPORAL
    if t.is_duration(type_):
        return Family.DURATION
    return Family.NESTED


def normalize(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """The column in a type every compute kernel profiling uses accepts.

    Dictionaries are decoded (their dictionaries may hold unused or repeated entries), views
    become their large counterparts, half floats become float32.
    """
    chunked = column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])
    type_ = chunked.type
    if pa.types.is_dictionary(type_):
        chunked = chunked.cast(type_.value_type)
        type_ = chunked.type
    if pa.types.is_string_view(type_):
        return chunked.cast(pa.large_string())
    if pa.types.is_binary_view(type_):
        return chunked.cast(pa.large_binary())
    if pa.types.is_float16(type_):
        return chunked.cast(pa.float32())
    return chunked


def physical_ints(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A temporal or duration column as its int64 storage (days, seconds, ... since the epoch)."""
    if pa.types.is_date32(column.type) or pa.types.is_time32(column.type):
        return column.cast(pa.int32()).cast(pa.int64())
    return column.cast(pa.int64())


def temporal_iso(value: int, type_: pa.DataType) -> str:
    """An ISO 8601 text of one temporal value given as its integer storage; a value outside
    years 1..9999 (which ISO texts and ``datetime`` cannot hold) as its integer, in text."""
    try:
        return _iso(value, type_)
    except (OverflowError, ValueError):
        return str(value)


def _iso(value: int, type_: pa.DataType) -> str:
    if pa.types.is_date32(type_):
        return (_EPOCH + dt.timedelta(days=value)).date().isoformat()
    if pa.types.is_date64(type_):
        return (_EPOCH + dt.timedelta(milliseconds=value)).date().isoformat()
    unit: str = type_.unit
    seconds, fraction = divmod(value, _PER_SECOND[unit])
    frac = f".{fraction:0{_DIGITS[unit]}d}" if fraction else ""
    moment = _EPOCH + dt.timedelta(seconds=seconds)
    if pa.types.is_time(type_):
        return moment.time().isoformat() + frac
    tz: str | None = type_.tz
    if tz is None:
        return moment.isoformat(timespec="seconds") + frac
    local = moment.replace(tzinfo=dt.UTC).astimezone(_zone(tz))
    text = local.isoformat(timespec="seconds")
    # Years 1..9999 print as 19 characters before the offset.
    return text[:19] + frac + text[19:]


def _zone(tz: str) -> dt.tzinfo:
    match = _OFFSET.match(tz)
    if match is None:
        return ZoneInfo(tz)
    sign = -1 if match.group(1) == "-" else 1
    return dt.timezone(sign * dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def json_float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def json_values(array: pa.Array | pa.ChunkedArray) -> list[JsonValue]:
    """Every value of ``array`` (nulls as None), JSON-safe as described in the module doc."""
    column = normalize(array)
    kind = family(column.type)
    if kind is Family.TEMPORAL:
        return [
            None if v is None else temporal_iso(v, column.type)
            for v in physical_ints(column).to_pylist()
        ]
    if kind is Family.DURATION:
        return list(physical_ints(column).to_pylist())
    if kind is Family.DECIMAL:
        column = column.cast(pa.float64())
    if kind is Family.BINARY:
        return [None if v is None else "0x" + v.hex() for v in column.to_pylist()]
    if kind is Family.NESTED:
        return [_nested(v) for v in _nested_pylist(column)]
    values: list[JsonValue] = column.to_pylist()
    if kind is Family.FLOATING:
        return [None if v is None else json_float(v) for v in values]
    return values


def json_scalar(scalar: pa.Scalar) -> JsonValue:
    """One Arrow scalar, JSON-safe."""
    return json_values(pa.repeat(scalar, 1))[0]


def _nested_pylist(column: pa.ChunkedArray) -> list[Any]:
    try:
        return list(column.to_pylist())
    except (ValueError, pa.ArrowException):
        # Nanosecond timestamps deep inside a nested value: their text is the next best.
        return [None if not s.is_valid else str(s) for s in column]


def _nested(value: Any) -> JsonValue:
    if isinstance(value, dict):
        return {str(k): _nested(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nested(v) for v in value]
    if isinstance(value, float):
        return json_float(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)  # Decimal and anything exotic
