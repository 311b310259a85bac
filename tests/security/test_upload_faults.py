"""Corrupt, truncated and abandoned uploads (the storage suite's own tests, reused): bytes that
do not match their checksum, a completion that omits a part or names one never sent, refused
form uploads, an aborted upload completed, abandoned and stuck uploads swept; each leaves
nothing behind. Run here with `pytest tests/chaos tests/security`, and once in the full suite.
"""

from __future__ import annotations

import pytest

from tests.integration.test_storage_api import (  # noqa: F401 (fixture)
    client,
    test_failed_uploads_leave_nothing_behind,
)
from tests.integration.test_upload_acceptance import (  # noqa: F401 (fixture)
    platform,
    test_a_completion_that_omits_a_part,
    test_a_part_declared_but_never_sent,
    test_a_stuck_completion_is_swept_only_after_the_grace,
    test_an_abandoned_upload_is_swept,
    test_bytes_that_do_not_match_the_declared_checksum,
    test_completing_an_aborted_upload,
    test_form_upload_refusals_leave_nothing,
)
from tests.security.reuse import once_per_session

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ORIGINS = {
    "test_failed_uploads_leave_nothing_behind": "tests/integration/test_storage_api.py",
}


@pytest.fixture(autouse=True)
def _once(request: pytest.FixtureRequest) -> None:
    name = request.node.originalname
    once_per_session(request, ORIGINS.get(name, "tests/integration/test_upload_acceptance.py"))
