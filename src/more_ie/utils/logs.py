"""Logging set-up for the CLI, and a rate-reporting progress logger for long stages.

Library code only logs; the CLI decides where the lines go (stderr, and the rule's log file).
tqdm bars are unreadable in Snakemake log files, so long loops log a line every N items instead.

The terminal shows the project's own lines (loggers ``more_ie`` and ``more_ie.*``) and every
WARNING or worse, whoever logs it; other libraries' INFO lines (open_clip logs its model loading
on the root logger) go to the ``--log`` file only, or to the terminal too with ``-v``. ``-v``
(DEBUG) is the project's DEBUG lines; other libraries stay at INFO even then (pyjnius alone logs
tens of thousands of DEBUG lines describing every Java method it binds).
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
PROJECT_LOGGER = "more_ie"


def is_project_record(record: logging.LogRecord) -> bool:
    """A line of this project's own loggers (``more_ie``, ``more_ie.*``)."""
    return record.name == PROJECT_LOGGER or record.name.startswith(PROJECT_LOGGER + ".")


def terminal_filter(record: logging.LogRecord) -> bool:
    """What the terminal shows at default verbosity: the project's lines, and anyone's warnings."""
    return record.levelno >= logging.WARNING or is_project_record(record)


def setup_logging(
    log_file: str | Path | None = None, level: int = logging.INFO, third_party: bool | None = None
) -> None:
    """Log the project's lines at ``level`` and other libraries' at ``level`` or INFO, whichever is
    higher, to stderr and, if given, to ``log_file`` (which gets every line).

    ``third_party``: whether stderr shows other libraries' lines below WARNING too; by default only
    at DEBUG level (the CLI's ``-v``)."""
    terminal = logging.StreamHandler(sys.stderr)
    if not (level <= logging.DEBUG if third_party is None else third_party):
        terminal.addFilter(terminal_filter)
    handlers: list[logging.Handler] = [terminal]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w", encoding="utf-8"))
    logging.basicConfig(level=max(level, logging.INFO), format=LOG_FORMAT, handlers=handlers, force=True)
    # the project's loggers below INFO only where asked; else they follow the root logger
    logging.getLogger(PROJECT_LOGGER).setLevel(level if level < logging.INFO else logging.NOTSET)
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
