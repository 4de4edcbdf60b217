"""`StoreConnection`: one SQLite connection to a store folder, its transactions and its schema check.

Opening never changes the schema of an existing store: an older store is refused with one line that
says to run ``kcnn store upgrade`` (which backs it up first), a newer one with one that says to upgrade
kcnn. A missing store is created only when the caller may create it; read commands never create.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Self

from kcnn.errors import LeaseLost, StoreError, StoreFull
from kcnn.store.records import Claim
from kcnn.store.schema import NOW, SCHEMA_VERSION, create_schema, missing_metric_columns

DB_NAME = "kcnn.sqlite"
DEFAULT_STORE = "kcnn-runs"
BUSY_TIMEOUT_MS = 30_000
_LOCK_RETRIES = 20


def default_store_path() -> Path:
    """``$KCNN_STORE`` if set, else ``./kcnn-runs``."""
    return Path(os.environ.get("KCNN_STORE") or DEFAULT_STORE)


def connect(database: Path, *, create: bool, read_only: bool = False) -> sqlite3.Connection:
    """A connection to `database` with kcnn's settings (WAL, busy timeout, foreign keys).

    Args:
        database: The SQLite file.
        create: Create the file if it is missing; otherwise opening a missing file fails.
        read_only: Open for reading only (a store on a read-only disk, or without write permission).
    """
    mode = "ro" if read_only else "rwc" if create else "rw"
    uri = f"file:{urllib.parse.quote(str(database))}?mode={mode}"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def connect_read_only(database: Path) -> sqlite3.Connection:
    """A read-only connection, even where SQLite cannot create the WAL index beside the file.

    A WAL store whose folder cannot be written and whose ``-shm`` file is gone (a clean close removes it)
    can only be opened as immutable: safe, since nothing on a read-only disk can change it meanwhile.
    """
    conn = connect(database, create=False, read_only=True)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
    uri = f"file:{urllib.parse.quote(str(database))}?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def unwritable_reason(folder: Path) -> str | None:
    """Why this process cannot change the store in `folder` (read-only disk, permissions); `None` if it can."""
    database = folder / DB_NAME
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "it is on a read-only file system"
    except OSError:
        return None
    for path in (folder, database):
        if path.exists() and not os.access(path, os.W_OK):
            return f"this user has no write permission for {str(path)!r}"
    return None


def schema_version(conn: sqlite3.Connection) -> int:
    """The store's schema version (``PRAGMA user_version``)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


class StoreConnection:
    """The store folder, its connection, write transactions with lock retries, and the schema check."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> None:
        """Open the store in folder `path`.

        Args:
            path: The store folder. Defaults to `default_store_path()`.
            create: Create the store if there is none. Read-only commands pass `False`, so that a
                mistyped ``--store`` creates nothing. Defaults to `True`.

        Raises:
            StoreError: If there is no store and `create` is False, the folder or database cannot be
                opened, or the store's schema is older or newer than this kcnn's.
        """
        self.path = Path(path) if path is not None else default_store_path()
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"The store path {str(self.path)!r} is a file; `--store` must name a folder.")
        database = self.path / DB_NAME
        if not create and not database.is_file():
            raise StoreError(
                f"There is no kcnn store at {str(self.path)!r}; check `--store` (or $KCNN_STORE), "
                "or queue a run there first (`kcnn queue add`)."
            )
        self.read_only_reason = unwritable_reason(self.path) if database.is_file() else None
        """Why the store can be read but not changed here (read-only disk, permissions); `None` if writable."""
        if self.read_only_reason is not None and create:
            raise StoreError(self._read_only_message())
        try:
            if self.read_only_reason is not None:
                self._conn = connect_read_only(database)
            else:
                if create:
                    self.artifacts.mkdir(parents=True, exist_ok=True)
                self._conn = connect(database, create=create)
                self._retry_locked(lambda: self._conn.execute("PRAGMA journal_mode = WAL"))
                self._conn.execute("PRAGMA synchronous = NORMAL")
                self._conn.execute("PRAGMA foreign_keys = ON")
            self._check_schema(create)
        except (OSError, sqlite3.DatabaseError) as error:
            raise StoreError(f"Cannot open the store at {str(self.path)!r}: {error}.") from None

    def _read_only_message(self) -> str:
        return (
            f"The store at {str(self.path)!r} cannot be changed: {self.read_only_reason}. Reading works "
            "(kcnn runs, show, leaderboard, export); to queue, train or change runs, make it writable or copy it "
            "to a writable --store."
        )

    def _check_schema(self, create: bool) -> None:
        version = schema_version(self._conn)
        if version == 0 and create:
            with self._write() as conn:
                if schema_version(conn) == 0:  # another process may have created it meanwhile
                    create_schema(conn)
            version = schema_version(self._conn)
        if version == SCHEMA_VERSION:
            missing = missing_metric_columns(self._conn)
            if not missing:
                return
            self._conn.close()
            names = ", ".join(metric.name for metric in missing)
            raise StoreError(
                f"The store at {str(self.path)!r} has no column yet for the metric(s) {names}. "
                f"Run `kcnn store upgrade --store {self.path}` (it backs the store up first)."
            )
        self._conn.close()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The store at {str(self.path)!r} has schema version {version}, newer than this kcnn's "
                f"({SCHEMA_VERSION}); upgrade kcnn (`pip install -U kcnn`)."
            )
        raise StoreError(
            f"The store at {str(self.path)!r} has schema version {version}; this kcnn needs {SCHEMA_VERSION}. "
            f"Run `kcnn store upgrade --store {self.path}` (it backs the store up first)."
        )

    @property
    def artifacts(self) -> Path:
        """The folder of per-run artifacts."""
        return self.path / "artifacts"

    def run_folder(self, run_id: int) -> Path:
        """The artifacts folder of one run."""
        return self.artifacts / str(run_id)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _retry_locked(self, action: Any) -> Any:
        for attempt in range(_LOCK_RETRIES):
            try:
                return action()
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
                time.sleep(min(0.05 * 2**attempt, 1.0))
        raise StoreError(f"The store at {str(self.path)!r} stayed locked; is a process stuck holding it?")

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, committed on success, rolled back on error.

        Raises:
            StoreError: If the store is read-only here, naming why.
            StoreFull: If the disk is full (the transaction is rolled back; the store stays as it was).
        """
        if self.read_only_reason is not None:
            raise StoreError(self._read_only_message())
        self._retry_locked(lambda: self._conn.execute("BEGIN IMMEDIATE"))
        try:
            yield self._conn
            self._retry_locked(lambda: self._conn.execute("COMMIT"))
        except BaseException as error:
            if self._conn.in_transaction:  # SQLite may have rolled back already (a full disk does)
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            if isinstance(error, sqlite3.OperationalError) and disk_is_full(error):
                raise StoreFull(
                    f"The disk holding the store {str(self.path)!r} is full ({error}); nothing was changed and the "
                    "store is intact. Free some space and run the command again."
                ) from None
            raise

    @staticmethod
    def _event(
        conn: sqlite3.Connection,
        run_id: int | None,
        kind: str,
        attempt: int | None = None,
        worker_id: str | None = None,
        message: str | None = None,
    ) -> None:
        conn.execute(
            "INSERT INTO events (run_id, kind, attempt, worker_id, message) VALUES (?, ?, ?, ?, ?)",
            (run_id, kind, attempt, worker_id, message),
        )

    @staticmethod
    def _fenced(conn: sqlite3.Connection, claim: Claim, assignments: str, values: Sequence[Any]) -> None:
        cursor = conn.execute(
            f"UPDATE runs SET {assignments} WHERE id = ? AND attempt = ? AND state = 'running'",
            (*values, claim.run_id, claim.attempt),
        )
        if cursor.rowcount != 1:
            raise LeaseLost(f"Run {claim.run_id} attempt {claim.attempt} is no longer owned by {claim.worker_id}.")

    def now(self) -> float:
        """SQLite's clock, in Unix seconds."""
        return float(self._conn.execute(f"SELECT {NOW}").fetchone()[0])

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``ok`` for a healthy file."""
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])


def disk_is_full(error: sqlite3.Error) -> bool:
    """Whether SQLite failed because the disk (or the database's size limit) is full."""
    return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(error)
