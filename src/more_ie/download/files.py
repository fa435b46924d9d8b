"""Fetch one large file (a dump, a dataset text file) with resume, retries and a checksum.

The bytes go to ``<out>.part``; a restarted job continues from there with an HTTP Range request.
Only a complete file whose checksum matches is renamed onto ``out``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from more_ie import __version__

logger = logging.getLogger(__name__)

# Wikimedia asks for a contact in the User-Agent; set MORE_IE_CONTACT to yours.
USER_AGENT = f"more-ie/{__version__} (MoRe reproduction pipeline; contact: {os.environ.get('MORE_IE_CONTACT', 'unset')})"  # noqa: E501
RETRY_STATUS = {429, 500, 502, 503, 504}
CHUNK = 1 << 20


class DownloadError(RuntimeError):
    pass


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_once(url: str, part: Path, timeout: float) -> None:
    done = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if done and not url.startswith("file:"):
        request.add_header("Range", f"bytes={done}-")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        status = getattr(response, "status", 200)
        if done and status != 206:  # the server ignored the Range header: start over
            done = 0
        total = response.headers.get("Content-Length")
        total_bytes = int(total) + done if total else None
        mode = "ab" if done else "wb"
        last_log = time.monotonic()
        with open(part, mode) as handle:
            while chunk := response.read(CHUNK):
                handle.write(chunk)
                done += len(chunk)
                if time.monotonic() - last_log > 10:
                    last_log = time.monotonic()
                    logger.info(
                        "%s: %.1f MB%s",
                        url,
                        done / 1e6,
                        f" of {total_bytes / 1e6:.1f}" if total_bytes else "",
                    )


def download_file(
    url: str,
    out: str | Path,
    sha256: str | None = None,
    retries: int = 5,
    timeout: float = 60.0,
    backoff: float = 2.0,
) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    for attempt in range(1, retries + 1):
        try:
            _fetch_once(url, part, timeout)
            break
        except urllib.error.HTTPError as err:
            if err.code not in RETRY_STATUS or attempt == retries:
                raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from err
            wait = backoff**attempt
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            if attempt == retries:
                raise DownloadError(
                    f"{url}: {err} (after {retries} attempts; partial data kept in {part})"
                ) from err
            wait = backoff**attempt
        logger.warning(
            "%s: attempt %d failed; retrying in %.0fs (resuming from %s)", url, attempt, wait, part
        )
        time.sleep(wait)
    if sha256:
        actual = sha256_of(part)
        if actual != sha256.lower():
            part.unlink()
            raise DownloadError(f"{url}: sha256 {actual} does not match the expected {sha256}")
    os.replace(part, out)
    logger.info("downloaded %s -> %s (%d bytes)", url, out, out.stat().st_size)
    return out
