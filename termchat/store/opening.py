"""Opening the database: file checks, connection settings, migrations and crash recovery."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from termchat.i18n import _
from termchat.paths import resolve_paths
from termchat.store.database import Store
from termchat.store.errors import StoreError, error_from_sqlite
from termchat.store.files import check_database_file, prepare_folder
from termchat.store.schema import SCHEMA_VERSION, migrate

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_SECONDS = 10.0
"""Default maximum seconds a write waits for another process's write lock before it fails as "locked"."""


def open_store(
    path: Path | None = None,
    *,
    clock: Callable[[], float] = time.time,
    busy_timeout: float = BUSY_TIMEOUT_SECONDS,
) -> Store:
    """Open the database at `path`, creating it and its folder, and bring its schema up to date.

    `path` defaults to the database file in the data directory, which
    TERMCHAT_HOME (or --data-dir) moves. Replies left `streaming` by a process
    that no longer runs are marked `stopped`. A file that is not SQLite, is
    truncated or is read-only raises StoreError and is left as it is.
    `clock` returns Unix time in seconds; tests pass their own. `busy_timeout`
    is the maximum number of seconds a call waits for another process's write lock.
    """
    database_path = Path(path) if path is not None else resolve_paths().database_file
    prepare_folder(database_path.parent)
    check_database_file(database_path)

    try:
        connection = sqlite3.connect(
            database_path,
            timeout=busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as error:
        raise error_from_sqlite(error, database_path, _("open the database")) from error

    try:
        _configure(connection, database_path, busy_timeout)
        migrate(connection)
    except sqlite3.Error as error:
        connection.close()
        raise error_from_sqlite(error, database_path, _("open the database")) from error
    except StoreError:
        connection.close()
        raise

    store = Store(connection, database_path, clock=clock)
    try:
        store.recover_interrupted_replies()
    except StoreError:
        store.close()
        raise
    return store


def _configure(connection: sqlite3.Connection, path: Path, busy_timeout: float) -> None:
    connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000):d}")
    connection.execute("PRAGMA foreign_keys = ON")

    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            _("The database {path} was written by a newer termchat (schema {found}, this one "
              "reads up to {supported}). Upgrade termchat, or use another folder with "
              "--data-dir.").format(path=path, found=version, supported=SCHEMA_VERSION),
            reason="invalid",
            path=path,
        )

    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        # Some network file systems do not support WAL, and SQLite then keeps its old mode.
        logger.warning("SQLite kept journal mode %s for %s instead of WAL", mode, path)
    # FULL syncs the log on every commit, so a committed message survives a power cut.
    connection.execute("PRAGMA synchronous = FULL")
