"""Schema & Metadata and Data Staging: datasets made from files and data sources, their
versions, lineage and the catalog."""

from rivergen.datasets.formats import DataFormat, ParseOptions
from rivergen.datasets.ports import DatasetCompute
from rivergen.datasets.service import DATASET_PROFILED, DATASET_VERSION_CREATED, DatasetService

__all__ = [
    "DATASET_PROFILED",
    "DATASET_VERSION_CREATED",
    "DataFormat",
    "DatasetCompute",
    "DatasetService",
    "ParseOptions",
]
