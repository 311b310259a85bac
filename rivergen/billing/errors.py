"""Billing's place in the error tree (:mod:`rivergen.errors`)::

RiverGenError
└── QuotaExceeded              403 quota_exceeded
"""

from __future__ import annotations

from rivergen.errors import RiverGenError


class QuotaExceeded(RiverGenError):
    """Work would take the organization past a quota of its plan.

    ``details``: ``quota``, ``plan``, ``limit``, ``used``, ``requested`` (numbers as strings
    where they are decimals).
    """

    status = 403
    code = "quota_exceeded"
