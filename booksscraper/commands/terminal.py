"""A quiet terminal for `scrapy crawl`: progress, warnings, errors, the result; the rest in a file.

On a terminal (stderr is a tty), unless the user chose where the log goes (``LOG_FILE``,
``--logfile``, ``--nolog``) or its level on the command line (``-L``, ``-s LOG_LEVEL``), the
crawl command points Scrapy's own log file at ``OUTPUT_DIR/crawl.log`` (the full log at
settings.py's ``LOG_LEVEL``, the stats dump included) and shows on the terminal only warnings,
errors and the crawl's one-line summary; its last line names the file. A pipe, or a log the
user chose, is Scrapy's behaviour, unchanged.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

from booksscraper.config.errors import BadConfig
from booksscraper.extensions import progress, summary
from booksscraper.output.folder import CRAWL_LOG, output_folder

# INFO lines the terminal shows too: the crawl's result in one line (and the report's path), and
# the progress lines of a crawl that draws no bar (its feed writes to the same screen).
RESULT_LOGGERS = (summary.__name__, progress.__name__)


def quiet_log_file(settings: BaseSettings) -> Path | None:
    """Where the full log goes on a quiet terminal; None: Scrapy's usual stderr log."""
    if not sys.stderr.isatty() or settings.get("LOG_FILE"):
        return None
    if not settings.getbool("LOG_ENABLED"):
        return None
    if (settings.getpriority("LOG_LEVEL") or 0) >= SETTINGS_PRIORITIES["cmdline"]:
        return None
    return output_folder(settings) / CRAWL_LOG


def writing(log: Path) -> Path:
    """Where the crawl writes ``log`` until it ends: a name of its own, so a crawl that the
    folder's lock then refuses never touches the running crawl's log or the last one's."""
    return log.with_name(f".{log.stem}-{os.getpid()}{log.suffix}")


def log_to_file(settings: BaseSettings, log: Path) -> None:
    """Scrapy's root handler writes ``writing(log)`` (appended to: Scrapy opens the file again
    when the crawler applies its settings); ``finish_log`` gives it its name at the end."""
    path = writing(log)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    except OSError as exc:
        raise BadConfig(f"OUTPUT_DIR: cannot write {path}: {exc.strerror}") from None
    settings.set("LOG_FILE", str(path), "cmdline")
    settings.set("LOG_FILE_APPEND", True, "cmdline")


def finish_log(log: Path, *, refused: bool) -> bool:
    """The crawl's log becomes ``log`` (the previous crawl's went with its other files,
    ``booksscraper.output.folder``); a crawl refused at start leaves nothing. True: ``log``
    is this crawl's."""
    path = writing(log)
    try:
        if refused:
            path.unlink(missing_ok=True)
            return False
        os.replace(path, log)
    except OSError:
        return False
    return True


class TerminalLines(logging.Filter):
    """Warnings and errors, and the result line; not what the command prints itself."""

    def __init__(self, command_logger: str) -> None:
        super().__init__()
        self.command_logger = command_logger

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == self.command_logger:
            return False  # `error: ...` lines, printed by the command
        return record.levelno >= logging.WARNING or record.name in RESULT_LOGGERS


class TerminalFormat(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            message = f"{record.levelname}: {message}"
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return message


def add_terminal_handler(command_logger: str) -> logging.Handler:
    """A stderr handler beside Scrapy's file handler (a plain StreamHandler: the progress bar
    prints its records above the bar)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(TerminalLines(command_logger))
    handler.setFormatter(TerminalFormat())
    logging.getLogger().addHandler(handler)
    return handler
