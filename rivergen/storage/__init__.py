"""Storage Service: direct uploads into object storage, verified by the platform, and files;
the sweeper of abandoned uploads."""

from rivergen.storage.service import StorageService
from rivergen.storage.sweeper import UploadSweeper

__all__ = ["StorageService", "UploadSweeper"]
