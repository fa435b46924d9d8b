"""Download the images of the image KC into one folder, politely, resumably and safely.

Each distinct ``(file, url)`` of the image KC is fetched once (an image shown in several articles
has several KC rows) into ``out_dir/<safe name>``. The safe name comes from ``file`` but can never
leave ``out_dir``. Every body is written to a temporary file beside its target, checked to decode
as an image (Pillow, or an XML document with an ``<svg>`` root), and only then renamed into
place, so a killed job leaves no torn or bogus image and a rerun skips what is already there.
Failures (404, time-outs, HTML error pages...) are rows of the manifest, not job failures: the
later stages only count images that have no local file.

At scale the work is split into ``shards`` jobs: names are assigned over the whole KC (so they
never depend on the shard count), and shard ``i`` takes every ``shards``-th distinct image from
``i``. The jobs share ``out_dir`` (their names are disjoint) and each writes its own manifest;
``merge_manifests`` checks and joins them. Each job keeps a per-host request budget
(``DownloadSettings.requests_per_second``, see ``throttle.py``): give each job the host's total
budget divided by the number of jobs that run at once.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
from collections import Counter
from pathlib import Path
from typing import Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from more_ie.download.image_fetch import (  # noqa: F401 - re-exported: the stage's public surface
    DownloadSettings,
    _process,
    _Result,
    _retry_after,
)
from more_ie.download.image_names import _Task, assign_names, inspect_image, sanitize_name  # noqa: F401
from more_ie.download.throttle import HostThrottle
from more_ie.utils import ProgressLog, write_parquet

logger = logging.getLogger(__name__)

_COUNT_KEY = {"ok": "ok", "failed": "failed", "skipped_existing": "skipped"}

MANIFEST_SCHEMA = pa.schema(
    [
        pa.field("file", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("local_path", pa.string()),
        pa.field("status", pa.string(), nullable=False),  # ok | skipped_existing | failed
        pa.field("error", pa.string()),  # failure reason, or 'unsafe_name_renamed' on a kept file
        pa.field("format", pa.string()),  # Pillow's format name, or 'SVG'
        pa.field("bytes", pa.int64()),
        pa.field("attempts", pa.int32(), nullable=False),
    ]
)


def _read_tasks(image_kc: Path) -> list[_Task]:
    table = pq.read_table(image_kc, columns=["image_id", "file", "url"])
    groups = table.group_by(["file", "url"], use_threads=False).aggregate([("image_id", "min")])
    groups = groups.sort_by("image_id_min")
    return assign_names(
        zip(groups["file"].to_pylist(), groups["url"].to_pylist(), groups["image_id_min"].to_pylist())
    )


def _shard_tasks(tasks: list[_Task], shard: int, shards: int) -> list[_Task]:
    if shards < 1 or not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1} (shards={shards})")
    return tasks[shard::shards]  # names were assigned over all tasks: independent of the split


def _remove_stale_temporaries(out_dir: Path, names: set[str] | None) -> None:
    """Delete temporaries left by a SIGKILLed job (atomic_path cannot clean up after one).

    ``names`` limits this to the temporaries of this shard's own images: the other shards may be
    writing theirs right now. atomic_path names them ``.<name>.<8 random chars>.tmp``.
    """
    stale = []
    for path in out_dir.glob(".*.tmp"):
        owner = path.name[1 : -len(".tmp")].rpartition(".")[0]
        if path.is_file() and (names is None or owner in names):
            stale.append(path)
    for path in stale:
        path.unlink()
    if stale:
        logger.info("removed %d temporary files left by an interrupted run", len(stale))


def download_images(
    image_kc: str | Path,
    out_dir: str | Path,
    manifest_out: str | Path,
    settings: DownloadSettings = DownloadSettings(),
    shard: int = 0,
    shards: int = 1,
) -> Counter:
    """Fetch shard ``shard`` of ``shards`` of the distinct images of ``image_kc`` into ``out_dir``.

    Writes the shard's manifest Parquet. ``local_path`` is ``out_dir/<name>`` as given (relative
    paths stay relative to the working directory, as in a Snakemake run). A failed image is a
    manifest row; only an unreadable KC or a local error (disk full, permissions) raises.
    """
    throttle = HostThrottle(settings.requests_per_second)  # checks the budget before any side effect
    out_dir = Path(out_dir)
    all_tasks = _read_tasks(Path(image_kc))
    tasks = _shard_tasks(all_tasks, shard, shards)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(out_dir, {t.name for t in tasks} if shards > 1 else None)
    counts: Counter = Counter(files=len(tasks), renamed=sum(t.renamed for t in tasks))
    logger.info(
        "shard %d/%d: %d of %d distinct images to fetch into %s (%d renamed to safe names), "
        "%d in flight at most, %s requests/s per host",
        shard,
        shards,
        len(tasks),
        len(all_tasks),
        out_dir,
        counts["renamed"],
        settings.max_in_flight,
        settings.requests_per_second or "no budget:",
    )
    results: list[_Result | None] = [None] * len(tasks)
    progress = ProgressLog(logger, "images", total=len(tasks), every=settings.progress_every)
    workers = max(1, settings.max_in_flight)
    # submit a bounded window, not a million futures at once
    pending: dict[cf.Future[_Result], int] = {}
    with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="img") as pool:
        next_index = 0
        try:
            while next_index < len(tasks) or pending:
                while next_index < len(tasks) and len(pending) < 4 * workers:
                    future = pool.submit(_process, tasks[next_index], out_dir, settings, throttle)
                    pending[future] = next_index
                    next_index += 1
                done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    result = future.result()  # unexpected errors (disk full...) fail the job here
                    results[index] = result
                    counts[_COUNT_KEY[result.status]] += 1
                    counts["retries"] += max(0, result.attempts - 1)
                    counts["throttled"] += result.throttled
                    if result.status == "failed":
                        counts[f"error_{result.error}"] += 1
                    progress.update()
        except BaseException:
            for future in pending:  # do not wait for queued downloads when the job is failing
                future.cancel()
            raise
    progress.close()

    rows = []
    for task, result in zip(tasks, results):
        assert result is not None
        kept = result.status != "failed"
        rows.append(
            {
                "file": task.file,
                "url": task.url,
                "local_path": str(out_dir / task.name) if kept else None,
                "status": result.status,
                "format": result.format,
                "bytes": result.bytes,
                "attempts": result.attempts,
                "error": result.error if not kept else ("unsafe_name_renamed" if task.renamed else None),
            }
        )
    hosts = throttle.summary()
    metadata = {f"count_{k}": str(v) for k, v in counts.items()}
    metadata |= {"shard": str(shard), "shards": str(shards), "kc_images": str(len(all_tasks))}
    metadata |= {
        f"rate_final_{host}": f"{h['rate']:.3f}" for host, h in hosts.items() if settings.requests_per_second
    }
    write_parquet(pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA), manifest_out, metadata=metadata)
    if counts["skipped"]:
        logger.info("%d images already present: not fetched again", counts["skipped"])
    if counts["throttled"]:
        logger.warning(
            "the server throttled %d requests; budgets at the end (requests/s): %s",
            counts["throttled"],
            {host: round(h["rate"], 3) for host, h in hosts.items()},
        )
    logger.info("image download: %s", dict(counts))
    if tasks and counts["failed"] == len(tasks):
        logger.error("every one of the %d images failed; check the URLs and the network", len(tasks))
    return counts


def merge_manifests(manifests: Sequence[str | Path], out: str | Path) -> Counter:
    """Join the shard manifests of one KC into one, checking that every shard is there once."""
    if not manifests:
        raise ValueError("no shard manifests to merge")
    tables, seen = [], {}
    totals: Counter = Counter()
    for path in manifests:
        table = pq.read_table(path)
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        if not table.schema.remove_metadata().equals(MANIFEST_SCHEMA) or "shards" not in meta:
            raise ValueError(f"{path}: not an image-download shard manifest")
        shard, shards = int(meta["shard"]), int(meta["shards"])
        if shards != len(manifests) or shard in seen:
            raise ValueError(
                f"{path}: shard {shard} of {shards}, but {len(manifests)} manifests were given"
                + (f" and {seen[shard]} is that shard too" if shard in seen else "")
            )
        seen[shard] = path
        tables.append(table.replace_schema_metadata(None))
        totals.update({k[len("count_") :]: int(v) for k, v in meta.items() if k.startswith("count_")})
    merged = pa.concat_tables(tables)
    expected = int(meta["kc_images"])
    if merged.num_rows != expected:
        raise ValueError(f"the shard manifests hold {merged.num_rows} images, the KC has {expected}")
    write_parquet(merged, out, metadata={f"count_{k}": str(v) for k, v in totals.items()})
    logger.info("merged %d shard manifests: %s", len(manifests), dict(totals))
    return totals


def update_local_paths(image_kc: str | Path, manifest: str | Path, out: str | Path) -> int:
    """Write a copy of ``image_kc`` with ``local_path`` from the manifest (null where failed).

    Rows are matched on ``(file, url)``; row order, schema and metadata are kept. Returns the
    number of rows that got a local path.
    """
    kc = pq.read_table(image_kc)
    paths = pq.read_table(manifest, columns=["file", "url", "local_path"]).rename_columns(
        ["file", "url", "_local_path"]
    )
    indexed = kc.select(["file", "url"]).append_column("_row", pa.array(range(kc.num_rows), pa.int64()))
    joined = indexed.join(paths, keys=["file", "url"], join_type="left outer").sort_by("_row")
    if joined.num_rows != kc.num_rows:
        raise ValueError(f"{manifest} has duplicate (file, url) rows; it is not a download manifest")
    local = joined["_local_path"].cast(pa.string())
    if "local_path" in kc.column_names:
        kc = kc.set_column(kc.column_names.index("local_path"), kc.schema.field("local_path"), local)
    else:
        kc = kc.append_column(pa.field("local_path", pa.string()), local)
    with_path = kc.num_rows - local.null_count
    write_parquet(kc, out)
    logger.info("image KC with local paths: %d of %d rows have a local file", with_path, kc.num_rows)
    return with_path
