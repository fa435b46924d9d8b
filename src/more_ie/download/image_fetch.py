"""One image: fetch it (http(s) or file:) into a temporary file, check it, rename it into place.

Transient failures (429, 5xx, time-outs, connection errors) are retried with exponential backoff;
a 429 (or 503) also goes through the job's per-host budget (``throttle.HostThrottle``): the host
is paused for the server's ``Retry-After`` and its rate lowered, and such throttled answers have
their own, larger retry allowance, so a busy server slows the job down instead of losing files.
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from more_ie.download.image_names import _Task, inspect_image
from more_ie.download.settings import DownloadSettings
from more_ie.download.throttle import HostThrottle
from more_ie.utils import atomic_path

logger = logging.getLogger(__name__)

CHUNK = 1 << 16


@dataclass
class _Result:
    status: str
    error: str | None = None
    format: str | None = None
    bytes: int | None = None
    attempts: int = 0
    throttled: int = 0  # answers that asked us to slow down


class _Failure(Exception):
    """One attempt failed; ``transient`` failures are retried."""

    def __init__(
        self, reason: str, transient: bool = False, retry_after: float | None = None, throttled: bool = False
    ):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after
        self.throttled = throttled  # the server asks us to slow down (429, or 503 + Retry-After)


def _target_inside(out_dir: Path, name: str) -> Path:
    """The target path, refusing one that resolves outside ``out_dir`` (e.g. a planted symlink)."""
    target = out_dir / name
    if target.resolve().parent != out_dir.resolve():
        raise _Failure("unsafe_path")
    return target


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
        throttled = err.code == 429 or (err.code == 503 and retry_after is not None)
        raise _Failure(
            f"http_{err.code}", transient=transient, retry_after=retry_after, throttled=throttled
        ) from err
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


def _process(task: _Task, out_dir: Path, settings: DownloadSettings, throttle: HostThrottle) -> _Result:
    try:
        target = _target_inside(out_dir, task.name)
    except _Failure as err:
        return _Result("failed", error=err.reason)
    if target.is_file():
        fmt, reason = inspect_image(target)
        if reason is None:
            return _Result("skipped_existing", format=fmt, bytes=target.stat().st_size)
        logger.warning("%s exists but is not an image (%s): fetching it again", target, reason)
    parts = urllib.parse.urlsplit(task.url)
    host = parts.netloc.lower() if parts.scheme.lower() in ("http", "https") else None  # file: is local
    attempt = throttled = failed = 0
    while True:
        attempt += 1
        sent_at = throttle.acquire(host) if host else 0.0
        try:
            result = _fetch_once(task, target, settings)
        except _Failure as err:
            retry_after = None if err.retry_after is None else min(err.retry_after, settings.max_retry_after)
            if err.throttled:
                throttled += 1
                if host:
                    throttle.throttled(host, sent_at, retry_after)
            else:
                failed += 1
            exhausted = throttled > settings.throttle_retries or failed > settings.retries
            if not err.transient or exhausted:
                logger.debug("%s: failed (%s) after %d attempt(s)", task.url, err.reason, attempt)
                return _Result("failed", error=err.reason, attempts=attempt, throttled=throttled)
            if retry_after is not None:
                # a host-wide pause when there is a host (every thread waits in acquire)
                wait = 0.0 if host else retry_after
            else:
                n = throttled if err.throttled else failed
                wait = min(settings.backoff * 2 ** (n - 1), settings.max_retry_after)
            logger.debug("%s: %s, retry %d in %.2fs", task.url, err.reason, attempt, wait)
            if wait:
                time.sleep(wait)
            continue
        if host:
            throttle.succeeded(host)
        result.attempts = attempt
        result.throttled = throttled
        return result
