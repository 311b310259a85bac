"""Corrupt and truncated direct uploads to S3 through presigned part URLs (the storage suite's
own tests, reused): a wrong checksum, a wrong size, a part replaced after its ETag was
declared; each is refused and leaves no object and no open multipart upload."""

from __future__ import annotations

import pytest

from tests.integration.test_presigned_multipart import (  # noqa: F401 (fixtures)
    key,
    observer,
    payload,
    settings,
    store,
    test_a_part_replaced_after_its_etag_was_declared_is_refused,
    test_a_wrong_checksum_is_refused_and_nothing_is_left,
    test_a_wrong_size_is_refused_and_nothing_is_left,
)
from tests.security.reuse import once_per_session

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def _once(request: pytest.FixtureRequest) -> None:
    once_per_session(request, "tests/integration/test_presigned_multipart.py")
