"""Sensitive-data detection on a labelled, seeded, generated set of values.

Positives come from Faker (emails, IBANs of five countries, card numbers of six networks, US
Social Security numbers, US and UK street addresses) and, where Faker only makes numbers from
reserved fictional ranges (phones, UK National Insurance numbers), from the numbering plans
themselves (NANP, Ofcom; HMRC's prefix rules). Negatives are the values that sit next to them in
real tables (names, companies, dates, amounts, codes, cities, sentences) and look-alikes that
fail a checksum: random 16-digit numbers with a wrong Luhn digit, IBANs with wrong check digits,
SSNs of an area never issued, National Insurance numbers with a forbidden prefix.
"""

from __future__ import annotations

import csv
import random
import string
from collections import Counter

import pytest
from faker import Faker
from stdnum import iban as stdnum_iban
from stdnum import luhn

from rivergen.services.governance.detection import (
    SENSITIVE_KINDS,
    SensitiveKind,
    classify_column,
    classify_columns,
    classify_value,
)
from tests.conftest import SHARED_DATA

SEED = 20261129
Labelled = list[tuple[str, SensitiveKind | None]]

# HMRC: the first prefix letter is not D, F, I, Q, U or V; the second not those nor O.
_NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
_NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"
_NINO_FORBIDDEN = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


# Area codes in service (a sample of the NANP's assigned ones across the US and Canada).
_AREA_CODE_TEXT = (
    "201 202 203 205 206 207 208 212 213 214 215 216 217 301 303 305 312 313 314 315 402 404 "
    "405 406 407 408 410 412 415 416 503 504 505 510 512 513 602 604 608 612 615 617 702 703 "
    "704 713 714 716 718 720 801 802 803 804 813 815 816 818 901 904 916 919 920 925 949 972"
)
_AREA_CODES = _AREA_CODE_TEXT.split()


def _nanp_phone(rng: random.Random) -> str:
    # NANP: an assigned area code, exchange [2-9]XX (no N11), not the fictional 555 block.
    area = rng.choice(_AREA_CODES)
    while True:
        exchange = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
        if exchange[1:] != "11" and exchange != "555":
            break
    line = f"{rng.randint(0, 9999):04d}"
    style = rng.randrange(6)
    if style == 0:
        return f"({area}) {exchange}-{line}"
    if style == 1:
        return f"{area}-{exchange}-{line}"
    if style == 2:
        return f"{area}.{exchange}.{line}"
    if style == 3:
        return f"+1 {area} {exchange} {line}"
    if style == 4:
        return f"+1-{area}-{exchange}-{line}x{rng.randint(1, 9999)}"
    return f"({area}){exchange}-{line}"


def _uk_phone(rng: random.Random) -> str:
    # Ofcom's allocations: mobiles 07[4-9]XX XXXXXX (not 076, pagers); London 020 [378]XXX
    # XXXX; Birmingham, Manchester and Edinburgh local numbers starting 2 to 7.
    kind = rng.randrange(3)
    if kind == 0:
        digits = f"07{rng.choice('4789')}{rng.randint(0, 99):02d}{rng.randint(0, 999999):06d}"
        national = f"{digits[:5]} {digits[5:]}"
    elif kind == 1:
        digits = f"020{rng.choice('378')}{rng.randint(0, 9999999):07d}"
        national = f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    else:
        area = rng.choice(["0121", "0161", "0131"])
        digits = f"{area}{rng.randint(2, 7)}{rng.randint(0, 999999):06d}"
        national = f"{digits[:4]} {digits[4:7]} {digits[7:]}"
    return f"+44 {national[1:]}" if rng.random() < 0.3 else national


def _nino(rng: random.Random, *, valid: bool = True) -> str:
    while True:
        prefix = rng.choice(_NINO_FIRST) + rng.choice(_NINO_SECOND)
        if (prefix not in _NINO_FORBIDDEN) == valid:
            break
    digits = f"{rng.randint(0, 999999):06d}"
    suffix = rng.choice("ABCD")
    if rng.random() < 0.5:
        return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
    return f"{prefix}{digits}{suffix}"


def _group(number: str, rng: random.Random) -> str:
    style = rng.randrange(3)
    if style == 0:
        return number
    separator = " " if style == 1 else "-"
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


def _spaced(iban: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return iban
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _jcb(rng: random.Random) -> str:
    body = f"{rng.randint(3528, 3589)}{rng.randint(0, 10**11 - 1):011d}"
    return body + luhn.calc_check_digit(body)


def _luhn_failing(rng: random.Random, length: int = 16) -> str:
    number = "".join(rng.choice(string.digits) for _ in range(length))
    if luhn.is_valid(number):
        number = number[:-1] + str((int(number[-1]) + 1) % 10)
    return number


def _bad_iban(fake: Faker, rng: random.Random) -> str:
    good = fake.iban()
    while True:
        candidate = f"{good[:2]}{rng.randint(0, 99):02d}{good[4:]}"
        if candidate != good and not stdnum_iban.is_valid(candidate):
            return candidate


def labelled_values(seed: int = SEED) -> Labelled:
    rng = random.Random(seed)
    us, gb = Faker("en_US"), Faker("en_GB")
    ibans = [Faker(locale) for locale in ("en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES")]
    for i, fake in enumerate([us, gb, *ibans]):
        fake.seed_instance(seed + i)
    cards = ("visa16", "visa13", "visa19", "mastercard", "amex", "discover")
    data: Labelled = []

    def add(kind: SensitiveKind | None, n: int, make: object) -> None:
        data.extend((str(make()), kind) for _ in range(n))  # type: ignore[operator]

    add("email", 200, lambda: rng.choice([us.email, gb.email, us.company_email])())
    add("phone", 130, lambda: _nanp_phone(rng))
    add("phone", 120, lambda: _uk_phone(rng))
    add("card_number", 220, lambda: _group(us.credit_card_number(rng.choice(cards)), rng))
    add("card_number", 30, lambda: _group(_jcb(rng), rng))
    add("iban", 200, lambda: _spaced(rng.choice(ibans).iban(), rng))
    add("national_id", 120, us.ssn)
    add("national_id", 80, lambda: _nino(rng))
    add("street_address", 120, us.street_address)
    add("street_address", 80, gb.street_address)
    # Negatives that sit next to them in real tables.
    add(None, 80, lambda: rng.choice([us.name, gb.name])())
    add(None, 60, us.company)
    add(None, 50, lambda: us.date(rng.choice(["%Y-%m-%d", "%d/%m/%Y", "%m-%d-%Y"])))
    add(None, 50, lambda: f"{rng.uniform(0, 10_000):.2f}")
    add(None, 50, lambda: str(rng.randint(0, 10**6)))
    add(None, 40, lambda: rng.choice([us.city, gb.city, us.country])())
    add(None, 40, us.job)
    add(None, 40, us.sentence)
    add(None, 30, us.uuid4)
    add(None, 30, lambda: rng.choice([us.postcode, gb.postcode])())
    add(None, 20, us.url)
    add(None, 20, us.isbn13)
    add(None, 20, lambda: us.bothify("??-####-??").upper())
    add(None, 20, lambda: us.street_name())  # a street with no number is not an address
    # Look-alikes whose checksum or issuing rule fails.
    add(None, 150, lambda: _group(_luhn_failing(rng), rng))
    add(None, 30, lambda: _luhn_failing(rng, rng.choice([13, 15, 19])))
    add(None, 100, lambda: _bad_iban(rng.choice(ibans), rng))
    add(
        None,
        40,
        lambda: (
            f"{rng.choice(['000', '666', '9' + str(rng.randint(10, 99))])}-"
            f"{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
        ),
    )
    add(None, 30, lambda: _nino(rng, valid=False))
    add(None, 20, lambda: us.user_name() + "@localhost")
    return data


LOOK_ALIKES = 150 + 30 + 100 + 40 + 30


@pytest.fixture(scope="module")
def scored() -> list[tuple[str, SensitiveKind | None, SensitiveKind | None]]:
    return [(value, truth, classify_value(value)) for value, truth in labelled_values()]


def test_the_generated_set_is_large_and_seeded() -> None:
    values = labelled_values()
    assert len(values) >= 2000
    assert values == labelled_values()
    kinds = Counter(truth for _, truth in values)
    assert set(SENSITIVE_KINDS) <= set(kinds)


def test_precision_and_recall_at_least_95_percent(
    scored: list[tuple[str, SensitiveKind | None, SensitiveKind | None]],
) -> None:
    tp = sum(1 for _, truth, got in scored if got is not None and got == truth)
    fp = sum(1 for _, truth, got in scored if got is not None and got != truth)
    fn = sum(1 for _, truth, got in scored if truth is not None and got != truth)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"values={len(scored)} precision={precision:.4f} recall={recall:.4f}")
    for kind in SENSITIVE_KINDS:
        ktp = sum(1 for _, t, g in scored if t == kind and g == kind)
        kfp = sum(1 for _, t, g in scored if g == kind and t != kind)
        kfn = sum(1 for _, t, g in scored if t == kind and g != kind)
        print(f"  {kind}: precision={ktp / max(ktp + kfp, 1):.3f} recall={ktp / (ktp + kfn):.3f}")
    wrong = [(v, t, g) for v, t, g in scored if t != g]
    assert precision >= 0.95, wrong[:20]
    assert recall >= 0.95, wrong[:20]


def test_checksum_failing_look_alikes_are_never_flagged(
    scored: list[tuple[str, SensitiveKind | None, SensitiveKind | None]],
) -> None:
    look_alikes = scored[-(LOOK_ALIKES + 20) : -20]
    flagged = [(value, got) for value, _, got in look_alikes if got is not None]
    assert flagged == []


def test_a_column_is_tagged_when_enough_of_its_values_match() -> None:
    rng = random.Random(SEED)
    fake = Faker("en_US")
    fake.seed_instance(SEED)
    emails = [fake.email() for _ in range(90)] + [fake.name() for _ in range(10)] + [None, ""]
    finding = classify_column("contact", emails, threshold=0.8)
    assert finding is not None and finding.kind == "email"
    assert (finding.matched, finding.sampled) == (90, 100)
    assert classify_column("contact", emails, threshold=0.95) is None
    random_numbers = [_luhn_failing(rng) for _ in range(100)]
    assert classify_column("ref", random_numbers) is None
    assert classify_column("empty", [None, " "]) is None
    found = classify_columns({"a": emails, "b": random_numbers, "c": [_jcb(rng) for _ in range(5)]})
    assert [(f.column, f.kind) for f in found] == [("a", "email"), ("c", "card_number")]


def test_cards_stored_as_integers_are_recognized_and_floats_are_not() -> None:
    assert classify_value(4111111111111111) == "card_number"
    assert classify_value(4111111111111111.0) is None
    assert classify_value(True) is None
    assert classify_value(None) is None


# Real data: the published Northwind tables. Columns whose values may be personal, by name;
# suppliers' `city` holds some addresses (rows whose unquoted commas shifted the fields).
NORTHWIND_KINDS: dict[str, set[str]] = {
    "address": {"street_address"},
    "shipAddress": {"street_address"},
    "phone": {"phone"},
    "fax": {"phone"},
    "homePhone": {"phone"},
}


def test_no_false_positive_in_the_northwind_tables() -> None:
    flagged: dict[tuple[str, str], Counter[str]] = {}
    tagged = []
    for path in sorted((SHARED_DATA / "northwind").glob("*.csv")):
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            rows = list(csv.DictReader(handle))
        for column in rows[0]:
            values = [r[column] for r in rows if r.get(column) not in (None, "", "NULL")]
            kinds: Counter[str] = Counter(k for k in map(classify_value, values) if k)
            if kinds:
                flagged[(path.stem, column)] = kinds
            finding = classify_column(column, values)
            if finding is not None:
                tagged.append((path.stem, column, finding.kind))
    for (table, column), kinds in flagged.items():
        allowed = NORTHWIND_KINDS.get(column, set())
        if (table, column) == ("suppliers", "city"):
            allowed = {"street_address"}
        assert set(kinds) <= allowed, (table, column, kinds)
    # Most Northwind phones and addresses are in other countries' local formats (no country
    # code, no US/UK street suffix): only the shippers' US phones reach the column threshold.
    assert tagged == [("shippers", "phone", "phone")]
