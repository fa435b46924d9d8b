"""Atomic output: everything is written to a temporary sibling and renamed into place.

A job killed half-way therefore leaves either the old file or no file, never a torn one.
Snakemake would delete a failed job's outputs anyway, but the CLI also runs outside it.

Temporaries are named ``.<output name>.<8 random chars>.tmp[<suffix>]`` beside the output, so a
``kill -9`` leftover is recognisable: the next write of the SAME output (and the CLI, for a
command's outputs, as it starts) removes it. Only temporaries of that one output path are
touched, never those of another output that a concurrent job may be writing (Snakemake never
runs two jobs for one output at once).

Temporaries are created with ``os.open(..., 0o666)`` / ``os.mkdir(..., 0o777)`` rather than
``mkstemp``/``mkdtemp`` (0600/0700): the kernel applies the umask, and the rename keeps the
mode, so outputs are as readable as any file the user creates (colleagues on a shared cluster).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import IO, Any, Iterator, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

PARQUET_COMPRESSION = "zstd"


logger = logging.getLogger(__name__)

# The random part: 8 characters, as mkstemp's (so leftovers of older versions are recognised too).
_TOKEN = r"[a-z0-9_]{8}"
_ANY_TEMPORARY = re.compile(rf"^\..+\.{_TOKEN}\.tmp(\.[A-Za-z0-9]+)?$")


def _temporary_pattern(final: Path) -> re.Pattern[str]:
    # Anchored on the exact output name: for output "a.parquet" this never matches the
    # temporaries of "a.parquet.x" (the token cannot contain a dot).
    return re.compile(rf"^\.{re.escape(final.name)}\.{_TOKEN}\.tmp(\.[A-Za-z0-9]+)?$")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# Temporary-looking names per folder, listed once per process: a folder of a million images must
# not be listed once per image written. A stale temporary predates this process, so one listing
# finds them all; temporaries this process creates later are never in it.
_LISTED: dict[Path, set[str]] = {}


def _temporaries_in(folder: Path) -> set[str]:
    key = folder.resolve()
    if key not in _LISTED:
        with os.scandir(folder) as entries:
            _LISTED[key] = {e.name for e in entries if _ANY_TEMPORARY.match(e.name)}
    return _LISTED[key]


def sweep_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries a killed writer of ``path`` left beside it; return what was removed."""
    final = Path(path)
    if not final.parent.is_dir():
        return []
    pattern = _temporary_pattern(final)
    listed = _temporaries_in(final.parent)
    names = sorted(n for n in listed if pattern.match(n))
    stale = [final.parent / n for n in names]
    for leftover in stale:
        _remove(leftover)
    listed.difference_update(names)
    if stale:
        logger.info(
            "removed %d stale temporaries of %s left by an interrupted run: %s",
            len(stale),
            final,
            ", ".join(names),
        )
    return stale


def sweep_temporaries_in(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove every temporary directly inside ``folder`` (a folder that belongs to one job)."""
    root = Path(folder)
    if not root.is_dir():
        return []
    stale = sorted(p for p in root.iterdir() if _ANY_TEMPORARY.match(p.name))
    for leftover in stale:
        _remove(leftover)
    _LISTED.get(root.resolve(), set()).difference_update(p.name for p in stale)
    if stale:
        logger.info(
            "removed %d stale temporaries in %s: %s", len(stale), root, ", ".join(p.name for p in stale)
        )
    return stale


def _temporary_name(final: Path, suffix: str) -> Path:
    token = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
    return final.parent / f".{final.name}.{token}.tmp{suffix}"


def _new_temporary(final: Path, suffix: str, is_dir: bool) -> Path:
    for _ in range(100):
        tmp = _temporary_name(final, suffix)
        try:
            if is_dir:
                os.mkdir(tmp, 0o777)  # the umask applies, unlike mkdtemp's fixed 0700
            else:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # umask applies
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {final}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(final)
    tmp = _new_temporary(final, suffix, is_dir=False)
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
    sweep_temporaries(final)
    tmp = _new_temporary(final, "", is_dir=True)
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
