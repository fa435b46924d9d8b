"""Shared helpers: atomic writes, logging and progress."""
from more_ie.utils.atomic import ParquetBatchWriter, atomic_dir, atomic_open, atomic_path, read_parquet_metadata, write_json, write_parquet
from more_ie.utils.logs import ProgressLog, setup_logging

__all__ = [
    "ParquetBatchWriter",
    "ProgressLog",
    "atomic_dir",
    "atomic_open",
    "atomic_path",
    "read_parquet_metadata",
    "setup_logging",
    "write_json",
    "write_parquet",
]
