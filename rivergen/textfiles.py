"""Text files as people have them: the encoding their bytes are in, a CSV's delimiter and
decimal separator. Used wherever a text file becomes a table (uploads, data sources).

The encoding is a byte-order mark's, else UTF-8 if the bytes are, else the likeliest one
``charset-normalizer`` proposes that reads as words (refused with ``unknown_encoding``, naming
the guess, when none fits: bytes are never shown as text); a file of binary bytes is refused
(``binary_file``).
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata

from rivergen.errors import ValidationFailed

# Byte-order marks and the codec that reads past them (UTF-32's before UTF-16's: they share
# a prefix).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Among encodings the detector finds equally likely (short files often fit several single-byte
# code pages), the most common first: spreadsheets on Western systems write Windows-1252.
_PREFERRED = ("utf_8", "cp1252", "latin_1", "iso8859_15")
# How much of a file the encoding detector reads.
_DETECT_BYTES = 1 << 20
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def as_utf8(data: bytes, name: str, encoding: str | None = None) -> tuple[bytes, str]:
    """A text file's bytes as UTF-8 (no byte-order mark) and the encoding they were read in:
    ``encoding`` if given, else a byte-order mark's, else UTF-8 if the bytes are, else the
    likeliest encoding (the detector's). Refused: bytes that are not text (``binary_file``),
    text in no encoding that fits (``unknown_encoding``, naming the detector's guess)."""
    if encoding is not None:
        return _decoded(data, name, _codec(encoding), given=True)
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _decoded(data, name, codec, given=False)
    utf16 = _utf16_without_bom(data[:8192])
    if utf16 is not None:
        return _decoded(data, name, utf16, given=False)
    if b"\x00" in data[:_DETECT_BYTES] or len(_CONTROL.findall(data[:8192])) > 8:
        raise ValidationFailed(
            f"{name!r} holds binary data, not text: it cannot be read as CSV or JSON Lines",
            code="binary_file",
            details={"file": name},
        )
    try:
        data.decode("utf-8")
        return data, "utf-8"
    except UnicodeDecodeError:
        pass
    return _decoded(data, name, _likeliest(data, name), given=False)


def _codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ValidationFailed(
            f"unknown encoding {encoding!r}",
            code="unknown_encoding",
            details={"encoding": encoding},
        ) from None


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 written without a byte-order mark: text whose every other byte is zero."""
    pairs = len(head) // 2
    if pairs < 4:
        return None
    even = sum(1 for i in range(0, pairs * 2, 2) if head[i] == 0)
    odd = sum(1 for i in range(1, pairs * 2, 2) if head[i] == 0)
    if odd > 0.6 * pairs and even < 0.05 * pairs:
        return "utf-16-le"
    if even > 0.6 * pairs and odd < 0.05 * pairs:
        return "utf-16-be"
    return None


def _likeliest(data: bytes, name: str) -> str:
    """The encoding of text that is not UTF-8: of those ``charset-normalizer`` proposes (and
    Windows-1252, which it misses on short text), the one whose text reads most like words
    (:func:`_oddities`); ties go to the most common (:data:`_PREFERRED`), then to the
    detector's order."""
    from charset_normalizer import from_bytes

    sample = data[:_DETECT_BYTES]
    proposed = [m.encoding for m in from_bytes(sample)]
    ranked: list[tuple[int, int, int, str]] = []
    for rank, codec in enumerate(dict.fromkeys([*proposed, *_PREFERRED[1:]])):
        try:
            text = sample.decode(codec, errors="strict" if len(sample) == len(data) else "ignore")
        except UnicodeDecodeError:
            continue
        preferred = _PREFERRED.index(codec) if codec in _PREFERRED else len(_PREFERRED)
        ranked.append((_oddities(text), preferred, rank, codec))
    if not ranked:
        raise ValidationFailed(
            f"{name!r} is not text in any encoding its bytes fit; pass `encoding` if it is text",
            code="unknown_encoding",
            details={"file": name, "guess": None},
        )
    return min(ranked)[3]


_WORD = re.compile(r"[^\s,;|\t\"'()\[\]{}<>=/\\:.!?]+")


def _oddities(text: str) -> int:
    """How unlike words a decoding reads: words mixing scripts (a CJK sign inside a Latin
    word), a symbol inside a word, a capital after a small letter that is not ASCII, and Latin
    words made mostly of accented letters (Cyrillic read as Windows-1252) each count one."""
    odd = 0
    for word in _WORD.findall(text):
        if word.isascii():
            continue
        letters = [c for c in word if c.isalpha()]
        scripts = {unicodedata.name(c, "?").split(" ")[0] for c in letters}
        odd += len(scripts) > 1
        odd += any(
            not c.isalnum() and not c.isascii() and 0 < i < len(word) - 1
            for i, c in enumerate(word)
        )
        odd += any(
            c.isupper() and not c.isascii() and word[i - 1].islower()
            for i, c in enumerate(word)
            if i
        )
        odd += any(not c.isprintable() for c in word)
        accented = sum(1 for c in letters if not c.isascii())
        odd += scripts == {"LATIN"} and len(letters) >= 3 and 4 * accented > 3 * len(letters)
    return odd


def _decoded(data: bytes, name: str, codec: str, *, given: bool) -> tuple[bytes, str]:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        said = "the encoding given" if given else "its likeliest encoding"
        raise ValidationFailed(
            f"{name!r} is not {codec} ({said}): byte {exc.start} does not fit; pass the "
            "file's `encoding`",
            code="unknown_encoding",
            details={"file": name, "guess": codec, "byte": exc.start},
        ) from None
    return text.removeprefix("\ufeff").encode("utf-8"), codecs.lookup(codec).name


_DELIMITERS = (",", ";", "\t", "|")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_DECIMAL_POINT = re.compile(r"^[+-]?\d+\.\d+$")
# How much of a CSV the delimiter and decimal separator are sniffed from.
_SNIFF_CHARS = 64 * 1024


def sniff_csv(
    data: bytes, name: str, delimiter: str | None = None, decimal: str | None = None
) -> tuple[str, str]:
    """The delimiter and decimal separator of a UTF-8 CSV: those given, else sniffed from its
    start. The delimiter is the candidate (``,``, ``;``, tab, ``|``) that splits the most
    lines into the same number (more than one) of fields, a comma when they tie; the decimal
    separator a comma when the delimiter is not one and numbers are written with one (1,5)
    and never with a point."""
    text = data[:_SNIFF_CHARS].decode("utf-8", errors="ignore")
    lines = text.splitlines()[:200]
    if len(data) > _SNIFF_CHARS and len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut
    delimiter = delimiter or ("\t" if name.lower().endswith(".tsv") else None)
    if delimiter is None:
        delimiter = max(_DELIMITERS, key=lambda d: (_consistency(lines, d), d == ","))
    if decimal is None and delimiter != ",":
        fields = [f.strip() for row in csv.reader(lines, delimiter=delimiter) for f in row]
        commas = sum(1 for f in fields if _DECIMAL_COMMA.match(f))
        points = sum(1 for f in fields if _DECIMAL_POINT.match(f))
        decimal = "," if commas and not points else "."
    return delimiter, decimal or "."


def _consistency(lines: list[str], delimiter: str) -> float:
    """How many of ``lines`` (as CSV with ``delimiter``) have the most common field count,
    when that count is more than one; 0 otherwise."""
    counts: dict[int, int] = {}
    try:
        for row in csv.reader(lines, delimiter=delimiter):
            if row:
                counts[len(row)] = counts.get(len(row), 0) + 1
    except csv.Error:
        return 0.0
    if not counts:
        return 0.0
    width, rows = max(counts.items(), key=lambda item: (item[1], item[0]))
    return rows / sum(counts.values()) if width > 1 else 0.0
