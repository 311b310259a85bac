"""A fingerprint of what policies make of a dataset for one caller: two callers whose
fingerprints are equal see the same data of it (the same rows, the same masks, the same columns
and limits), whatever the policies that got them there.

Anything kept from a computation over a dataset (a prompt's answer, ...) records the fingerprint
it was computed under; a later reader is shown the kept data only if its own fingerprint is the
same, and otherwise computes it again under its own policies.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from rivergen.services.governance.schemas import Governed

FINGERPRINT_VERSION = "g1"
"""Part of every fingerprint: a change of what is hashed changes every fingerprint (a kept
answer is then withheld, never shown under a fingerprint it was not computed with)."""


def _canonical(governed: Governed) -> dict[str, Any]:
    # ``applied`` names the policies, not what they do: left out, so equal effects are equal.
    fields = governed.model_dump(mode="json", exclude={"applied"})
    # Row filters AND together: their order does not change the rows.
    fields["row_filters"] = sorted(
        fields["row_filters"], key=lambda f: json.dumps(f, sort_keys=True, default=str)
    )
    fields["denied_columns"] = sorted(fields["denied_columns"])
    return fields


def fingerprint(governed: Governed) -> str:
    """``g1:`` and the SHA-256 (hex) of the canonical JSON of ``governed`` without the names
    of the policies applied."""
    text = json.dumps(_canonical(governed), sort_keys=True, separators=(",", ":"), default=str)
    return f"{FINGERPRINT_VERSION}:{hashlib.sha256(text.encode()).hexdigest()}"
