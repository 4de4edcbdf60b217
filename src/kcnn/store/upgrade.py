"""``kcnn store upgrade`` and ``kcnn store info``: the only way a store's schema changes, and what a store holds.

An upgrade first copies the database with SQLite's online backup (``kcnn.sqlite.v{N}.bak`` beside it),
then runs every missing migration and the Python steps that go with them in **one** transaction: a
crash or a kill leaves either the old store or the upgraded one, never a mixture.

The step to version 3 re-keys every run with the versioned `config_key`: folder datasets become absolute
paths (relative ones are resolved from the current directory, which is where workers ran them), ``auto``
colour modes become what they resolve to now (left as ``auto`` when the dataset is gone), runs that
predate the `precision` field are recorded as ``float32`` (kcnn's default then; the worker's
``--precision`` was not stored), and images per second becomes the median over the run's epochs.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kcnn.config import KEY_VERSION, ExperimentConfig, absolute_dataset, key_of
from kcnn.errors import KcnnError, StoreError
from kcnn.store.claims import median_rate
from kcnn.store.connection import (
    DB_NAME,
    connect,
    connect_read_only,
    default_store_path,
    schema_version,
    unwritable_reason,
)
from kcnn.store.retention import artifact_usage
from kcnn.store.schema import SCHEMA_VERSION, add_metric_columns, apply_migrations, missing_metric_columns


@dataclass(frozen=True)
class UpgradeReport:
    """What an upgrade did."""

    path: Path
    from_version: int
    to_version: int
    backup: Path | None
    """The copy taken before the upgrade (None when nothing needed upgrading)."""
    rekeyed: int = 0
    """Runs whose config key changed."""


@dataclass(frozen=True)
class StoreInfo:
    """A store at a glance (`kcnn store info`)."""

    path: Path
    schema_version: int
    current_version: int
    runs_by_state: dict[str, int]
    epochs: int
    events: int
    database_bytes: int
    artifacts_bytes: int
    missing_metrics: tuple[str, ...] = ()
    """Metrics of the run contract this store has no column for yet (`kcnn store upgrade` adds them)."""
    artifacts_by_kind: dict[str, int] = field(default_factory=dict)
    """Bytes of resume checkpoints, final models, best-epoch models and other files."""
    largest_runs: list[tuple[int, int]] = field(default_factory=list)
    """``(run id, bytes)`` of the largest run folders, largest first."""
    data_cache: Path | None = None
    """The decoded-image cache folder (shared by every store on this machine: ``$KCNN_CACHE``)."""
    data_cache_bytes: int = 0

    @property
    def needs_upgrade(self) -> bool:
        """Whether `kcnn store upgrade` must run before other commands accept this store."""
        return self.schema_version < self.current_version or bool(self.missing_metrics)

    def to_dict(self) -> dict[str, Any]:
        """Every figure, for scripts."""
        return {
            "path": str(self.path),
            "schema_version": self.schema_version,
            "current_version": self.current_version,
            "needs_upgrade": self.needs_upgrade,
            "runs_by_state": self.runs_by_state,
            "epochs": self.epochs,
            "events": self.events,
            "database_bytes": self.database_bytes,
            "artifacts_bytes": self.artifacts_bytes,
            "artifacts_by_kind": self.artifacts_by_kind,
            "largest_runs": [{"run": run_id, "bytes": size} for run_id, size in self.largest_runs],
            "data_cache": None if self.data_cache is None else str(self.data_cache),
            "data_cache_bytes": self.data_cache_bytes,
        }


def _open_existing(path: Path) -> sqlite3.Connection:
    """A connection to an existing store: read-only where this process cannot write it."""
    database = path / DB_NAME
    if not database.is_file():
        raise StoreError(f"There is no kcnn store at {str(path)!r}; check `--store` (or $KCNN_STORE).")
    reason = unwritable_reason(path)
    try:
        return connect(database, create=False) if reason is None else connect_read_only(database)
    except sqlite3.DatabaseError as error:
        raise StoreError(f"Cannot open the store at {str(path)!r}: {error}.") from None


def store_info(path: Path | None = None) -> StoreInfo:
    """Describe the store at `path` whatever its schema version (never changes it).

    Raises:
        StoreError: If there is no store there or it cannot be read.
    """
    path = Path(path) if path is not None else default_store_path()
    conn = _open_existing(path)
    try:
        version = schema_version(conn)
        states = {
            str(state): int(count) for state, count in conn.execute("SELECT state, COUNT(*) FROM runs GROUP BY state")
        }
        epochs = int(conn.execute("SELECT COUNT(*) FROM epochs").fetchone()[0])
        events = int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        missing = tuple(metric.name for metric in missing_metric_columns(conn)) if version == SCHEMA_VERSION else ()
    except sqlite3.DatabaseError as error:
        raise StoreError(f"The store at {str(path)!r} cannot be read: {error}.") from None
    finally:
        conn.close()
    database = sum(f.stat().st_size for f in path.glob(DB_NAME + "*") if f.is_file() and not f.name.endswith(".bak"))
    usage = artifact_usage(path / "artifacts")
    artifacts = sum(usage.by_kind.values())
    return StoreInfo(path, version, SCHEMA_VERSION, states, epochs, events, database, artifacts, missing,
                     usage.by_kind, usage.largest_runs)  # fmt: skip


def upgrade_store(
    path: Path | None = None, resolve_color_mode: Callable[[str, str], str] | None = None
) -> UpgradeReport:
    """Back the store up, then bring it to the current schema in one transaction.

    Args:
        path: The store folder. Defaults to `default_store_path()`.
        resolve_color_mode: ``(dataset, "auto") → mode`` for re-keying. Defaults to the data layer's.

    Raises:
        StoreError: If there is no store, it is newer than this kcnn, or it cannot be upgraded
            (nothing is changed then).
    """
    path = Path(path) if path is not None else default_store_path()
    conn = _open_existing(path)
    try:
        try:
            version = schema_version(conn)
        except sqlite3.DatabaseError as error:  # not a database at all (a garbage or truncated file)
            raise StoreError(f"The store at {str(path)!r} cannot be read: {error}; nothing was changed.") from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The store at {str(path)!r} has schema version {version}, newer than this kcnn's ({SCHEMA_VERSION}); "
                "upgrade kcnn instead."
            )
        if version == SCHEMA_VERSION and not missing_metric_columns(conn):
            return UpgradeReport(path, version, version, None)
        reason = unwritable_reason(path)
        if reason is not None:
            raise StoreError(f"The store at {str(path)!r} cannot be upgraded: {reason}; make it writable first.")
        backup = path / f"{DB_NAME}.v{version}.bak"
        with sqlite3.connect(backup) as copy:
            conn.backup(copy)
        copy.close()
        if resolve_color_mode is None:
            from kcnn.data import resolve_color_mode as resolve

            resolve_color_mode = resolve
        conn.execute("PRAGMA foreign_keys = OFF")  # version 5 swaps the runs table; ids and references stay
        try:
            conn.execute("BEGIN IMMEDIATE")
            apply_migrations(conn, version)
            add_metric_columns(conn)  # the run contract's metrics that this store has no column for yet
            rekeyed = rekey_runs(conn, resolve_color_mode) if version < 3 else 0
            dangling = conn.execute("PRAGMA foreign_key_check").fetchall()
            if dangling:
                raise sqlite3.DatabaseError(f"{len(dangling)} row(s) would point at missing rows, first {dangling[0]}")
            conn.execute("COMMIT")
        except BaseException as error:
            if conn.in_transaction:  # SQLite may have rolled back already (a full disk does)
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(error, sqlite3.DatabaseError):
                raise StoreError(f"Upgrading the store at {str(path)!r} failed, nothing changed: {error}.") from None
            raise
        return UpgradeReport(path, version, SCHEMA_VERSION, backup, rekeyed)
    finally:
        conn.close()


def rekey_runs(conn: sqlite3.Connection, resolve_color_mode: Callable[[str, str], str]) -> int:
    """Give every run its version-`KEY_VERSION` key and normalized config (inside the caller's transaction).

    Returns:
        How many runs' keys changed.
    """
    resolved: dict[str, str] = {}
    changed = 0
    rows = conn.execute("SELECT id, config, config_key FROM runs").fetchall()
    for run_id, text, old_key in rows:
        try:
            config = json.loads(text)
        except (ValueError, TypeError):
            config = None
        if not isinstance(config, dict):  # a damaged row stays as it is: readers show it as damaged
            conn.execute(
                "INSERT INTO events (run_id, kind, message) VALUES (?, 'damaged_config', ?)",
                (run_id, "config is not a JSON object; left as it is by the upgrade"),
            )
            continue
        config.setdefault("precision", "float32")
        if isinstance(config.get("dataset"), str):
            config["dataset"] = absolute_dataset(config["dataset"])
        if config.get("color_mode", "auto") == "auto":
            dataset = config.get("dataset", "builtin:shapes")
            if dataset not in resolved:
                try:
                    resolved[dataset] = resolve_color_mode(dataset, "auto")
                except KcnnError:
                    resolved[dataset] = "auto"
            config["color_mode"] = resolved[dataset]
        # The reader's own normalisation (`ExperimentConfig`), so that reader and upgrade agree on the key; a
        # config this kcnn cannot build is keyed as it is, and readers show it as damaged.
        with contextlib.suppress(KcnnError, TypeError, ValueError, AttributeError):
            config = ExperimentConfig.from_dict(config).to_dict()
        key = key_of(config)
        rates = [r[0] for r in conn.execute(
            "SELECT images_per_second FROM epochs WHERE run_id = ? AND images_per_second IS NOT NULL", (run_id,)
        )]  # fmt: skip
        conn.execute(
            "UPDATE runs SET config = ?, config_key = ?, key_version = ?, precision = ?, "
            "images_per_second = CASE WHEN state = 'done' THEN ? ELSE images_per_second END WHERE id = ?",
            (
                json.dumps(config, sort_keys=True, separators=(",", ":")),
                key,
                KEY_VERSION,
                config["precision"],
                median_rate(rates),
                run_id,
            ),
        )
        if key != old_key:
            changed += 1
            conn.execute(
                "INSERT INTO events (run_id, kind, message) VALUES (?, 'rekeyed', ?)",
                (run_id, f"config key {old_key} → {key} (key version {KEY_VERSION})"),
            )
    return changed
