"""Shared helpers: atomic writes, safe paths, image decoding, logging and progress."""

from more_ie.utils.atomic import (
    ParquetBatchWriter,
    atomic_dir,
    atomic_open,
    atomic_path,
    read_parquet_metadata,
    write_json,
    write_parquet,
)
from more_ie.utils.logs import ProgressLog, setup_logging
from more_ie.utils.paths import image_file, safe_child

__all__ = [
    "ParquetBatchWriter",
    "ProgressLog",
    "atomic_dir",
    "atomic_open",
    "atomic_path",
    "image_file",
    "read_parquet_metadata",
    "safe_child",
    "setup_logging",
    "write_json",
    "write_parquet",
]
