"""Sensitive-data detection: which values, and which columns, hold personal or payment data.

A value is classified as at most one :data:`SensitiveKind`, each checked by the rule its
issuer publishes rather than by shape alone:

- ``email``: RFC 5322 syntax (``email-validator``, no DNS lookup).
- ``card_number``: 13 to 19 digits (spaces or dashes allowed) of a known issuer range (Visa,
  Mastercard, American Express, Discover, JCB, Diners) whose Luhn check digit is right
  (``python-stdnum``). A random 16-digit number fails the check nine times in ten, and most of
  the rest start outside every issuer's range.
- ``iban``: country code, check digits (02 to 98) and a BBAN of that country's length and
  format, with the ISO 7064 mod-97 checksum (``python-stdnum``).
- ``national_id``: a US Social Security number (``python-stdnum``: area not 000, 666 or 9xx,
  group not 00, serial not 0000, and the numbers the SSA voided) written ``AAA-GG-SSSS`` or as
  9 digits, or a UK National Insurance number (HMRC's rules: two prefix letters of the allowed
  ones, not BG, GB, KN, NK, NT, TN or ZZ, six digits, a suffix A to D).
- ``phone``: a number ``phonenumbers`` (Google's libphonenumber metadata) calls valid, in
  international form (``+…``) or national form for the regions of :data:`PHONE_REGIONS`.
  Bare digit runs without any separator are not taken as phones (they are ids or amounts far
  more often), unless they start with ``+``.
- ``street_address``: a house number (or a flat, studio or unit), one to five words and a
  street suffix of USPS Publication 28 or the UK's common ones (``12 Baker Street``,
  ``482 Johnson Mills Suite 3``, ``Flat 2, 7 Mill Lane``, ``Studio 4, Kathleen Mills``).
  There is no checksum to lean on: this is the one heuristic.

A column is tagged with a kind when at least ``threshold`` of its sampled non-empty values are
of that kind (:func:`classify_column`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, Field
from stdnum import iban as _iban
from stdnum import luhn
from stdnum.us import ssn as _ssn

SensitiveKind = Literal["email", "phone", "card_number", "iban", "national_id", "street_address"]

SENSITIVE_KINDS: tuple[SensitiveKind, ...] = (
    "email",
    "phone",
    "card_number",
    "iban",
    "national_id",
    "street_address",
)

PHONE_REGIONS: tuple[str, ...] = ("US", "GB")
"""Regions whose national phone formats are recognized without a ``+`` country code."""

DEFAULT_THRESHOLD = 0.8
DEFAULT_SAMPLE_SIZE = 500

_MAX_VALUE_LENGTH = 200

# Issuer identification ranges (first digits) and lengths of the card networks.
_CARD_RANGES: tuple[tuple[int, int, tuple[int, ...]], ...] = (
    (4, 4, (13, 16, 19)),  # Visa
    (51, 55, (16,)),  # Mastercard
    (2221, 2720, (16,)),  # Mastercard 2-series
    (34, 34, (15,)),  # American Express
    (37, 37, (15,)),
    (6011, 6011, (16, 19)),  # Discover
    (644, 649, (16, 19)),
    (65, 65, (16, 19)),
    (3528, 3589, (16, 19)),  # JCB
    (300, 305, (14,)),  # Diners Club
    (36, 36, (14,)),
    (38, 39, (14, 16)),
)

_CARD_SHAPE = re.compile(r"^\d(?:[ -]?\d){12,18}$")
_IBAN_SHAPE = re.compile(r"^[A-Za-z]{2}\d{2}[A-Za-z0-9 ]{10,40}$")
_SSN_SHAPE = re.compile(r"^\d{3}-\d{2}-\d{4}$|^\d{9}$")
_NINO = re.compile(
    r"^(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]$"
)
_PHONE_CHARS = re.compile(r"^[+(]?[\d().\-\s/]{6,24}(?:\s*(?:x|ext\.?)\s*\d{1,6})?$", re.I)
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# USPS Publication 28 primary suffixes (full and common abbreviations) and the UK's usual ones.
_SUFFIX_WORDS = """
    alley aly annex anx arcade arc avenue ave av bayou byu beach bch bend bnd bluff blf bluffs
    blfs bottom btm boulevard blvd branch br bridge brg brook brk brooks burg bg burgs bypass
    byp camp cp canyon cyn cape cpe causeway cswy center ctr centers circle cir circles cirs
    cliff clf cliffs clfs club clb common cmn commons corner cor corners cors course crse court
    ct courts cts cove cv coves creek crk crescent cres crest crst crossing xing crossroad
    curve curv dale dl dam dm divide dv drive dr drives drs estate est estates ests expressway
    expy extension ext extensions fall falls fls ferry fry field fld fields flds flat flt flats
    flts ford frd fords forest frst forge frg forges fork frk forks frks fort ft freeway fwy
    garden gdn gardens gdns gateway gtwy glen gln glens green grn greens grove grv groves
    harbor hbr harbors haven hvn heights hts highway hwy hill hl hills hls hollow holw inlet
    island is islands iss isle junction jct junctions key ky keys knoll knl knolls lake lk lakes
    lks land landing lndg lane ln light lgt lights loaf lf lock lck locks lodge ldg loop mall
    manor mnr manors meadow mdw meadows mdws mews mill ml mills mission msn motorway mtwy mount
    mt mountain mtn mountains neck nck orchard orch oval overpass opas park parks parkway pkwy
    parkways pass passage psge path pike pine pne pines pnes place pl plain pln plains plns
    plaza plz point pt points pts port prt ports prairie pr radial radl ramp ranch rnch rapid
    rpd rapids rpds rest rst ridge rdg ridges rdgs river riv road rd roads rds route rte row
    rue run shoal shl shoals shls shore shr shores shrs skyway skwy spring spg springs spgs
    spur spurs square sq squares sqs station sta stravenue stra stream strm street st streets
    sts summit smt terrace ter throughway trwy trace trce track trak trafficway trfy trail trl
    trailer trlr tunnel tunl turnpike tpke underpass upas union un unions uns valley vly
    valleys vlys viaduct via view vw views vws village vlg villages vlgs ville vl vista vis
    walk walks wall way wy ways well wl wells wls close gate gardens grove hill wharf yard
"""
_STREET_SUFFIXES = frozenset(_SUFFIX_WORDS.split())
_ADDRESS = re.compile(
    r"^(?:(?P<unit>flat|apartment|apt\.?|unit|suite|ste\.?|studio)\s*\w+,?\s+)?"
    r"(?P<number>\d{1,6}[a-z]?(?:\s*[-/]\s*\d{1,6})?,?\s+)?"
    r"(?P<words>(?:[a-z0-9'.\-]+\s+){0,5}?)(?P<suffix>[a-z]+)\.?"
    r"(?:\s+(?:n|s|e|w|ne|nw|se|sw|north|south|east|west)\.?)?"
    r"(?:,?\s+(?:apt\.?|suite|ste\.?|unit|flat|floor|fl\.?|#)\s*[\w\-]+\.?)?$",
    re.I,
)


class ColumnFinding(BaseModel):
    """A column tagged as sensitive: its kind and how many of its sampled values were."""

    column: str
    kind: SensitiveKind
    matched: int = Field(ge=0, description="Sampled values of this kind.")
    sampled: int = Field(ge=1, description="Non-empty values looked at.")
    score: float = Field(ge=0, le=1, description="matched / sampled.")


def classify_value(value: object) -> SensitiveKind | None:
    """The sensitive kind of one value, or None. Non-strings are read as their text (a card
    number stored as an integer is still one); empty and very long values are never sensitive."""
    if value is None or isinstance(value, bool | float):
        return None
    text = str(value).strip()
    if not text or len(text) > _MAX_VALUE_LENGTH:
        return None
    for check in _CHECKS:
        kind = check(text)
        if kind is not None:
            return kind
    return None


def classify_column(
    name: str, values: Iterable[object], threshold: float = DEFAULT_THRESHOLD
) -> ColumnFinding | None:
    """The kind of a column whose sampled non-empty values are at least ``threshold`` of one
    kind; None when no kind reaches it (or nothing was sampled)."""
    counts: Counter[SensitiveKind] = Counter()
    sampled = 0
    for value in values:
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        sampled += 1
        kind = classify_value(value)
        if kind is not None:
            counts[kind] += 1
    if sampled == 0 or not counts:
        return None
    kind, matched = counts.most_common(1)[0]
    score = matched / sampled
    if score < threshold:
        return None
    return ColumnFinding(column=name, kind=kind, matched=matched, sampled=sampled, score=score)


def classify_columns(
    columns: Mapping[str, Sequence[object]], threshold: float = DEFAULT_THRESHOLD
) -> list[ColumnFinding]:
    """Every tagged column of ``columns`` (name -> sampled values), in their order."""
    found = (classify_column(name, values, threshold) for name, values in columns.items())
    return [finding for finding in found if finding is not None]


# Checks, most specific first: a checksum beats a shape.


def _email(text: str) -> SensitiveKind | None:
    if not _EMAIL_SHAPE.match(text):
        return None
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return None
    return "email"


def _iban_check(text: str) -> SensitiveKind | None:
    # ISO 13616 check digits run from 02 to 98 (mod-97 alone would let 00, 01 and 99 pass).
    if _IBAN_SHAPE.match(text) and 2 <= int(text[2:4]) <= 98 and _iban.is_valid(text):
        return "iban"
    return None


def _card(text: str) -> SensitiveKind | None:
    if not _CARD_SHAPE.match(text):
        return None
    digits = re.sub(r"[ -]", "", text)
    if not _issued(digits) or not luhn.is_valid(digits):
        return None
    return "card_number"


def _issued(digits: str) -> bool:
    for low, high, lengths in _CARD_RANGES:
        width = len(str(low))
        if len(digits) in lengths and low <= int(digits[:width]) <= high:
            return True
    return False


def _national_id(text: str) -> SensitiveKind | None:
    if _SSN_SHAPE.match(text) and _ssn.is_valid(text):
        return "national_id"
    if _NINO.match(text.upper()):
        return "national_id"
    return None


def _phone(text: str) -> SensitiveKind | None:
    if not _PHONE_CHARS.match(text):
        return None
    if not text.startswith("+") and not re.search(r"[()\-.\s/]", text):
        return None  # a bare run of digits: an id or an amount far more often than a phone
    regions: tuple[str | None, ...] = (None,) if text.startswith("+") else PHONE_REGIONS
    for region in regions:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return "phone"
    return None


def _address(text: str) -> SensitiveKind | None:
    match = _ADDRESS.match(text.replace("\n", ", "))
    if match is None or match["suffix"].lower() not in _STREET_SUFFIXES:
        return None
    if match["number"] is None and match["unit"] is None:
        return None  # a street needs a house number, or a flat in it
    if not re.search(r"[a-z]", match["words"] or "", re.I):
        return None  # "12 st" or "3 way": a street needs a name
    return "street_address"


_CHECKS = (_email, _iban_check, _card, _national_id, _phone, _address)
