"""Logging to termchat's log file, never to the terminal.

The TUI owns the screen and `termchat ask` owns stdout, so every library
logger (transformers, huggingface_hub, torch) is routed to the log file too.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

_LIBRARY_LOGGERS = ("transformers", "huggingface_hub", "torch", "accelerate", "filelock", "urllib3")
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(log_file: Path, *, debug: bool = False) -> None:
    """Send termchat's and the libraries' log records to `log_file`.

    Safe to call more than once: a second call replaces the file handler.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_termchat", False):
            root.removeHandler(handler)
            handler.close()

    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        # An unwritable log directory must not stop the app: drop the records.
        handler = logging.NullHandler()
    handler._termchat = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)

    for name in _LIBRARY_LOGGERS:
        library_logger = logging.getLogger(name)
        library_logger.handlers.clear()
        library_logger.propagate = True
    logging.captureWarnings(True)
