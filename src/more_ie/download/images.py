"""Download the images of the image KC into one folder, politely, resumably and safely.

Each distinct ``(file, url)`` of the image KC is fetched once (an image shown in several articles
has several KC rows) into ``out_dir/<safe name>``. The safe name comes from ``file`` but can never
leave ``out_dir``. Every body is written to a temporary file beside its target, checked to decode
as an image (Pillow, or an XML document with an ``<svg>`` root), and only then renamed into
place, so a killed job leaves no torn or bogus image and a rerun skips what is already there.
Failures (404, time-outs, HTML error pages...) are rows of the manifest, not job failures: the
later stages only count images that have no local file.
"""
from __future__ import annotations

import concurrent.futures as cf
import email.utils
import hashlib
import http.client
import logging
import socket
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from more_ie.download.files import USER_AGENT
from more_ie.utils import ProgressLog, atomic_path, write_parquet

logger = logging.getLogger(__name__)

CHUNK = 1 << 16
# ext4 and most file systems allow 255 bytes per name; atomic_path's temporary name adds
# ".", ".XXXXXXXX.tmp" around it, so keep safe names well below that.
MAX_NAME_BYTES = 200
FALLBACK_EXT = "img"
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


@dataclass
class DownloadSettings:
    max_in_flight: int = 8  # concurrent requests (worker threads); be polite to the upload server
    retries: int = 4  # extra attempts on 429, 5xx, time-outs and connection errors only
    backoff: float = 1.0  # seconds; the wait before retry n (0-based) is backoff * 2**n
    timeout: float = 30.0
    user_agent: str = USER_AGENT  # Wikimedia blocks clients without an identifying User-Agent
    max_bytes: int = 50_000_000
    max_retry_after: float = 120.0  # cap on a server's Retry-After, so one header cannot stall a job
    progress_every: int = 1000


@dataclass
class _Task:
    file: str
    url: str
    name: str  # safe name inside out_dir
    renamed: bool


@dataclass
class _Result:
    status: str
    error: str | None = None
    format: str | None = None
    bytes: int | None = None
    attempts: int = 0


class _Failure(Exception):
    """One attempt failed; ``transient`` failures are retried."""

    def __init__(self, reason: str, transient: bool = False, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after



def sanitize_name(file: str) -> str:
    """``file`` made into a plain name inside one folder ('' when nothing usable is left).

    Path separators become '_', so no component can be '..'; control characters go; leading dots
    and spaces go, so the name is neither '.'/'..' nor hidden (atomic_path's temporary files
    start with '.', and the resume scan must never mistake one for an image).
    """
    name = "".join("_" if ch in "/\\" else ch for ch in file if unicodedata.category(ch) != "Cc")
    name = name.lstrip(". ").rstrip(" ")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        if not dot or len(ext) > 8:
            stem, ext = name, ""
        digest = hashlib.sha1(file.encode("utf-8")).hexdigest()[:12]
        keep = MAX_NAME_BYTES - len(digest) - len(ext) - 2
        stem = stem.encode("utf-8")[:keep].decode("utf-8", "ignore")
        name = f"{stem}_{digest}" + (f".{ext}" if ext else "")
    return name


def _extension(name: str) -> str:
    ext = name.rpartition(".")[2] if "." in name else ""
    return ext.lower() if ext.isascii() and ext.isalnum() and len(ext) <= 5 else FALLBACK_EXT


def assign_names(groups: Iterable[tuple[str, str, int]]) -> list[_Task]:
    """One unique safe name per ``(file, url, first image_id)``, the same on every run.

    Names that needed no change claim theirs first, so a hostile or odd name can never take the
    place of a normal one; a colliding or empty name falls back to ``<image_id>.<ext>``, then to
    a hash of file and url.
    """
    rows = [(file, url, image_id, sanitize_name(file)) for file, url, image_id in groups]
    order = sorted(range(len(rows)), key=lambda i: (rows[i][3] != rows[i][0], rows[i][2]))
    taken: set[str] = set()
    tasks: dict[int, _Task] = {}
    for i in order:
        file, url, image_id, name = rows[i]
        renamed = name != file
        if not name or name in taken:
            renamed = True
            ext = _extension(name or file)
            name = f"{image_id}.{ext}"
            if name in taken:
                digest = hashlib.sha1(f"{file}\n{url}".encode("utf-8")).hexdigest()[:20]
                name = f"{digest}.{ext}"
            counter = 1
            base = name
            while name in taken:  # only with a hash collision: never in practice
                name = f"{counter}_{base}"
                counter += 1
        taken.add(name)
        tasks[i] = _Task(file, url, name, renamed)
    return [tasks[i] for i in range(len(rows))]


def _target_inside(out_dir: Path, name: str) -> Path:
    """The target path, refusing one that resolves outside ``out_dir`` (e.g. a planted symlink)."""
    target = out_dir / name
    if target.resolve().parent != out_dir.resolve():
        raise _Failure("unsafe_path")
    return target



def inspect_image(path: Path) -> tuple[str | None, str | None]:
    """``(format, None)`` if ``path`` holds an image, else ``(None, reason)``."""
    with open(path, "rb") as handle:
        head = handle.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):  # XML (SVG) or an HTML error page: never Pillow
        return _inspect_svg(path)
    try:
        with Image.open(path) as image:
            fmt = image.format
            image.verify()  # reads the data and checks it (CRCs for PNG) without decoding pixels
    except Image.DecompressionBombError:
        return None, "too_many_pixels"
    except Exception as err:  # noqa: BLE001 - Pillow raises many types for non-images; all mean one thing
        logger.debug("%s: not an image (%s: %s)", path.name, type(err).__name__, err)
        return None, "not_an_image"
    return fmt, None


def _inspect_svg(path: Path) -> tuple[str | None, str | None]:
    # expat >= 2.4 limits entity amplification and ElementTree never fetches external entities,
    # so a full parse of an untrusted document is safe; elements are cleared as they close.
    root: str | None = None
    try:
        for event, element in ET.iterparse(path, events=("start", "end")):
            if event == "start" and root is None:
                root = element.tag.rpartition("}")[2]
            elif event == "end":
                element.clear()
    except ET.ParseError as err:
        logger.debug("%s: not XML (%s)", path.name, err)
        return None, "not_an_image"
    return ("SVG", None) if root == "svg" else (None, "not_an_image")



def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # the other form is an HTTP date
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        logger.debug("unparseable Retry-After %r", value)
        return None
    return max(0.0, when.timestamp() - time.time())


def _copy_limited(source: IO[bytes], dest: IO[bytes], max_bytes: int) -> int:
    done = 0
    while True:
        try:
            chunk = source.read(CHUNK)
        except (TimeoutError, socket.timeout) as err:
            raise _Failure("timeout", transient=True) from err
        except http.client.IncompleteRead as err:
            raise _Failure("incomplete_read", transient=True) from err
        except (OSError, http.client.HTTPException) as err:  # reset, EIO...: the read, not the write
            raise _Failure("connection_error", transient=True) from err
        if not chunk:
            return done
        done += len(chunk)
        if done > max_bytes:
            raise _Failure("too_large")
        dest.write(chunk)  # a disk error here is the job's problem, not the image's: not caught


def _local_file(url: str) -> Path:
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise _Failure("bad_url")
    # 'file:results/x.jpg' has a relative path: relative to the current directory on purpose
    return Path(urllib.request.url2pathname(parts.path))


def _fetch_file_url(url: str, tmp: Path, settings: DownloadSettings) -> None:
    source = _local_file(url)
    try:
        if source.stat().st_size > settings.max_bytes:
            raise _Failure("too_large")
        with open(source, "rb") as src, open(tmp, "wb") as dest:
            _copy_limited(src, dest, settings.max_bytes)
    except FileNotFoundError as err:
        raise _Failure("missing_file") from err
    except (IsADirectoryError, PermissionError) as err:
        raise _Failure("unreadable_file") from err


def _fetch_http(url: str, tmp: Path, settings: DownloadSettings) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": settings.user_agent})
    try:
        # urllib follows redirects (http/https only: a redirect cannot point at a file: URL)
        response = urllib.request.urlopen(request, timeout=settings.timeout)
    except urllib.error.HTTPError as err:
        err.close()
        transient = err.code in (408, 429) or err.code >= 500  # 404, 403...: asking again won't help
        retry_after = _retry_after(err.headers.get("Retry-After")) if err.code in (429, 503) else None
        raise _Failure(f"http_{err.code}", transient=transient, retry_after=retry_after) from err
    except urllib.error.URLError as err:
        if isinstance(err.reason, (TimeoutError, socket.timeout)):
            raise _Failure("timeout", transient=True) from err
        raise _Failure("connection_error", transient=True) from err
    except (TimeoutError, socket.timeout) as err:
        raise _Failure("timeout", transient=True) from err
    except (ConnectionError, http.client.HTTPException) as err:
        raise _Failure("connection_error", transient=True) from err
    except ValueError as err:  # unknown URL type and the like
        raise _Failure("bad_url") from err
    with response:
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        if expected is not None and expected > settings.max_bytes:
            raise _Failure("too_large")
        with open(tmp, "wb") as dest:
            got = _copy_limited(response, dest, settings.max_bytes)
        if expected is not None and got != expected:
            raise _Failure("incomplete_read", transient=True)


def _fetch_once(task: _Task, target: Path, settings: DownloadSettings) -> _Result:
    scheme = urllib.parse.urlsplit(task.url).scheme.lower()
    with atomic_path(target) as tmp:  # renamed onto target only if this block does not raise
        if scheme == "file":
            _fetch_file_url(task.url, tmp, settings)
        elif scheme in ("http", "https"):
            _fetch_http(task.url, tmp, settings)
        else:
            raise _Failure("bad_url")
        fmt, reason = inspect_image(tmp)
        if reason:
            raise _Failure(reason)
        size = tmp.stat().st_size
    return _Result("ok", format=fmt, bytes=size)


def _process(task: _Task, out_dir: Path, settings: DownloadSettings) -> _Result:
    try:
        target = _target_inside(out_dir, task.name)
    except _Failure as err:
        return _Result("failed", error=err.reason)
    if target.is_file():
        fmt, reason = inspect_image(target)
        if reason is None:
            return _Result("skipped_existing", format=fmt, bytes=target.stat().st_size)
        logger.warning("%s exists but is not an image (%s): fetching it again", target, reason)
    attempt = 0
    while True:
        attempt += 1
        try:
            result = _fetch_once(task, target, settings)
        except _Failure as err:
            if not err.transient or attempt > settings.retries:
                logger.debug("%s: failed (%s) after %d attempt(s)", task.url, err.reason, attempt)
                return _Result("failed", error=err.reason, attempts=attempt)
            wait = settings.backoff * 2 ** (attempt - 1)
            if err.retry_after is not None:
                wait = min(err.retry_after, settings.max_retry_after)
            logger.debug("%s: %s, retry %d in %.2fs", task.url, err.reason, attempt, wait)
            time.sleep(wait)
            continue
        result.attempts = attempt
        return result



def _read_tasks(image_kc: Path) -> list[_Task]:
    table = pq.read_table(image_kc, columns=["image_id", "file", "url"])
    groups = table.group_by(["file", "url"], use_threads=False).aggregate([("image_id", "min")])
    groups = groups.sort_by("image_id_min")
    return assign_names(
        zip(groups["file"].to_pylist(), groups["url"].to_pylist(), groups["image_id_min"].to_pylist())
    )


def _remove_stale_temporaries(out_dir: Path) -> None:
    # a SIGKILLed job cannot run atomic_path's clean-up; out_dir belongs to this stage alone
    stale = [p for p in out_dir.glob(".*.tmp") if p.is_file()]
    for path in stale:
        path.unlink()
    if stale:
        logger.info("removed %d temporary files left by an interrupted run", len(stale))


def download_images(
    image_kc: str | Path,
    out_dir: str | Path,
    manifest_out: str | Path,
    settings: DownloadSettings = DownloadSettings(),
) -> Counter:
    """Fetch every distinct image of ``image_kc`` into ``out_dir``; write the manifest Parquet.

    ``local_path`` in the manifest is ``out_dir/<name>`` as given (relative paths stay relative to
    the working directory, as in a Snakemake run). A failed image is a manifest row; only an
    unreadable KC or a local error (disk full, permissions on ``out_dir``) raises.
    """
    out_dir = Path(out_dir)
    tasks = _read_tasks(Path(image_kc))
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(out_dir)
    counts: Counter = Counter(files=len(tasks), renamed=sum(t.renamed for t in tasks))
    logger.info(
        "%d distinct images to fetch into %s (%d renamed to safe names), %d in flight at most",
        len(tasks), out_dir, counts["renamed"], settings.max_in_flight,
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
                    pending[pool.submit(_process, tasks[next_index], out_dir, settings)] = next_index
                    next_index += 1
                done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    result = future.result()  # unexpected errors (disk full...) fail the job here
                    results[index] = result
                    counts[_COUNT_KEY[result.status]] += 1
                    counts["retries"] += max(0, result.attempts - 1)
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
        rows.append({
            "file": task.file, "url": task.url, "local_path": str(out_dir / task.name) if kept else None,
            "status": result.status, "format": result.format, "bytes": result.bytes,
            "attempts": result.attempts,
            "error": result.error if not kept else ("unsafe_name_renamed" if task.renamed else None),
        })
    write_parquet(
        pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA),
        manifest_out,
        metadata={f"count_{k}": str(v) for k, v in counts.items()},
    )
    if counts["skipped"]:
        logger.info("%d images already present: not fetched again", counts["skipped"])
    logger.info("image download: %s", dict(counts))
    if tasks and counts["failed"] == len(tasks):
        logger.error("every one of the %d images failed; check the URLs and the network", len(tasks))
    return counts


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
