"""Atomic output: everything is written to a temporary sibling and renamed into place.

A job killed half-way therefore leaves either the old file or no file, never a torn one.
Snakemake would delete a failed job's outputs anyway, but the CLI also runs outside it.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

PARQUET_COMPRESSION = "zstd"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=f".tmp{suffix}", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``path``; it replaces ``path`` only on success."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """``open()`` whose result appears at ``path`` only once the block exits cleanly."""
    if "r" in mode or "a" in mode or "+" in mode:
        raise ValueError(f"atomic_open writes whole files; mode {mode!r} is not supported")
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    with atomic_open(path) as handle:
        json.dump(obj, handle, indent=2, sort_keys=True, ensure_ascii=False)
        handle.write("\n")


def write_parquet(
    table: pa.Table,
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write ``table`` as zstd Parquet, atomically; ``metadata`` goes into the schema metadata."""
    if metadata:
        merged = dict(table.schema.metadata or {})
        merged.update({k.encode(): v.encode() for k, v in metadata.items()})
        table = table.replace_schema_metadata(merged)
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(table, tmp, compression=PARQUET_COMPRESSION)


class ParquetBatchWriter:
    """Write a Parquet file batch by batch, atomically: memory holds one batch, not the file.

    ``metadata`` may be set any time before the block ends (counts known only at the end).
    """

    def __init__(self, path: str | os.PathLike[str], schema: pa.Schema, rows_per_batch: int = 2048):
        self.path = Path(path)
        self.schema = schema
        self.rows_per_batch = rows_per_batch
        self.metadata: dict[str, str] = {}
        self.rows_written = 0
        self._pending: list[dict[str, Any]] = []
        self._stack = contextlib.ExitStack()
        self._writer: pq.ParquetWriter | None = None
        self._tmp: Path | None = None

    def __enter__(self) -> "ParquetBatchWriter":
        self._tmp = self._stack.enter_context(atomic_path(self.path, suffix=".parquet"))
        return self

    def append(self, row: dict[str, Any]) -> None:
        self._pending.append(row)
        if len(self._pending) >= self.rows_per_batch:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        if self._writer is None:
            assert self._tmp is not None
            self._writer = pq.ParquetWriter(self._tmp, self.schema, compression=PARQUET_COMPRESSION)
        self._writer.write_table(pa.Table.from_pylist(self._pending, schema=self.schema))
        self.rows_written += len(self._pending)
        self._pending = []

    def __exit__(self, exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        try:
            if exc_type is None:
                self._flush()
                if self._writer is None:  # no rows at all: still a valid, empty file
                    assert self._tmp is not None
                    self._writer = pq.ParquetWriter(self._tmp, self.schema, compression=PARQUET_COMPRESSION)
                if self.metadata:  # file-level key/value pairs, read back as schema metadata
                    self._writer.add_key_value_metadata(self.metadata)
            if self._writer is not None:
                self._writer.close()
        finally:
            # atomic_path renames on a clean exit and deletes the temporary file otherwise
            self._stack.__exit__(exc_type, exc, tb)


def read_parquet_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The file's key/value metadata (schema metadata and pairs added by ParquetBatchWriter)."""
    raw = pq.read_metadata(path).metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items() if not k.startswith(b"ARROW:")}
