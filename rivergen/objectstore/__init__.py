"""Object storage: one port, two adapters chosen by settings.

- :class:`ObjectStore` is the port every caller types against; :func:`connect_object_store`
  builds the adapter the settings ask for: :class:`S3ObjectStore` (AWS S3, MinIO, moto's server)
  or :class:`LocalObjectStore` (a directory, for one machine).
- Keys are opaque strings under the rules of :mod:`rivergen.objectstore.keys`.
- Direct uploads: ``create_multipart`` gives one URL per part, the client sends the bytes there
  (straight to S3, or to the platform's part endpoint for the local store), and
  ``complete_multipart`` assembles and verifies them (:mod:`rivergen.objectstore.multipart`).
"""

from rivergen.objectstore.connect import connect_object_store
from rivergen.objectstore.keys import validate_key, validate_prefix
from rivergen.objectstore.local import LocalObjectStore
from rivergen.objectstore.models import (
    CompletedPart,
    MultipartUpload,
    ObjectInfo,
    ObjectPage,
    PartTarget,
    UploadedPart,
    UploadSummary,
)
from rivergen.objectstore.multipart import MIN_PART_SIZE, multipart_etag
from rivergen.objectstore.port import ObjectStore
from rivergen.objectstore.s3 import S3ObjectStore

__all__ = [
    "MIN_PART_SIZE",
    "CompletedPart",
    "LocalObjectStore",
    "MultipartUpload",
    "ObjectInfo",
    "ObjectPage",
    "ObjectStore",
    "PartTarget",
    "S3ObjectStore",
    "UploadSummary",
    "UploadedPart",
    "connect_object_store",
    "multipart_etag",
    "validate_key",
    "validate_prefix",
]
