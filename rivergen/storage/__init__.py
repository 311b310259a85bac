"""Storage Service: direct uploads into object storage, verified by the platform, and files."""

from rivergen.storage.service import StorageService

__all__ = ["StorageService"]
