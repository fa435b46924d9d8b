"""Logging set-up for the CLI, and a rate-reporting progress logger for long stages.

Library code only logs; the CLI decides where the lines go (stderr, and the rule's log file).
tqdm bars are unreadable in Snakemake log files, so long loops log a line every N items instead.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(log_file: str | Path | None = None, level: int = logging.INFO) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w", encoding="utf-8"))
    logging.basicConfig(level=level, format=LOG_FORMAT, handlers=handlers, force=True)
    # faiss logs every instruction-set variant it fails to load; only the outcome matters
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)


class ProgressLog:
    """Logs ``done/total`` with a rate every ``every`` items and once at the end."""

    def __init__(self, logger: logging.Logger, what: str, total: int | None = None, every: int = 1000):
        self.logger = logger
        self.what = what
        self.total = total
        self.every = max(1, every)
        self.count = 0
        self.start = time.perf_counter()

    def update(self, n: int = 1) -> None:
        before = self.count
        self.count += n
        if self.count // self.every != before // self.every:
            self._log()

    def _log(self) -> None:
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        of_total = f"/{self.total}" if self.total is not None else ""
        self.logger.info(
            "%s: %d%s (%.1f/s, %.1fs)", self.what, self.count, of_total, self.count / elapsed, elapsed
        )

    def close(self) -> None:
        self._log()
