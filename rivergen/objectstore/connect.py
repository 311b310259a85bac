"""Choosing the object store adapter from settings."""

from __future__ import annotations

from rivergen.objectstore.local import LocalObjectStore
from rivergen.objectstore.port import ObjectStore
from rivergen.objectstore.s3 import S3ObjectStore
from rivergen.settings import Settings


def connect_object_store(
    settings: Settings, *, part_url_template: str | None = None
) -> ObjectStore:
    """S3 when ``settings.s3`` is configured, else the local directory store under
    ``settings.object_dir``. Connects lazily: nothing is reached until the first call.

    ``part_url_template`` is where the local store's clients send parts (the platform's part
    endpoint, with ``{upload_id}`` and ``{part_number}``); S3 presigns its own URLs.
    """
    if settings.s3.configured:
        return S3ObjectStore(
            settings.s3,
            connect_timeout_s=settings.s3.connect_timeout_s,
            read_timeout_s=settings.s3.read_timeout_s,
            max_attempts=settings.s3.max_attempts,
        )
    return LocalObjectStore(settings.object_dir, part_url_template=part_url_template)
