"""The store's SQLite schema and its migrations.

`MIGRATIONS[i]` takes a store from schema version ``i`` to ``i + 1``. A store
records its version in ``PRAGMA user_version``. A new store gets every
migration at once (`create_schema`); an existing one changes only through
``kcnn store upgrade`` (`kcnn.store.upgrade`), which backs it up first.
"""

from __future__ import annotations

import sqlite3

from kcnn.contract import Metric, run_metrics

#: The largest integer SQLite stores: priorities, counts and ids beyond it would overflow.
MAX_INTEGER = 2**63 - 1

#: SQL expression for "now" in Unix seconds, from SQLite's own clock.
NOW = "((julianday('now') - 2440587.5) * 86400.0)"

_V1 = f"""
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    config TEXT NOT NULL,
    config_key TEXT NOT NULL,
    seed INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    priority INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 0,
    retries INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    worker_id TEXT,
    lease_expires REAL,
    created REAL NOT NULL DEFAULT {NOW},
    started REAL,
    finished REAL,
    heartbeat REAL,
    epochs_total INTEGER NOT NULL,
    epochs_done INTEGER NOT NULL DEFAULT 0,
    checkpoint_epoch INTEGER NOT NULL DEFAULT 0,
    checkpoint TEXT,
    model TEXT,
    best_val_accuracy REAL,
    final_val_accuracy REAL,
    train_seconds REAL,
    images_per_second REAL,
    params INTEGER,
    flops_per_image INTEGER,
    device TEXT,
    error_kind TEXT,
    error_message TEXT,
    source TEXT NOT NULL DEFAULT 'queue'
);
CREATE INDEX runs_claim ON runs (state, priority DESC, id);
CREATE INDEX runs_key ON runs (config_key, seed);
CREATE TABLE epochs (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    epoch INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    loss REAL,
    accuracy REAL,
    val_loss REAL,
    val_accuracy REAL,
    seconds REAL,
    images_per_second REAL,
    recorded REAL NOT NULL DEFAULT {NOW},
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER REFERENCES runs (id),
    time REAL NOT NULL DEFAULT {NOW},
    kind TEXT NOT NULL,
    attempt INTEGER,
    worker_id TEXT,
    message TEXT
);
CREATE INDEX events_run ON events (run_id, id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
"""

# V2: what trained the run and how much of its device it used (issue 7).
_V2 = """
ALTER TABLE runs ADD COLUMN device_name TEXT;
ALTER TABLE runs ADD COLUMN peak_flops REAL;
ALTER TABLE runs ADD COLUMN train_loop TEXT;
"""

# V3: the 1.0 engine (issue 12): versioned config keys, precision, the data's fingerprint, why this loop.
# The re-keying of stored runs is Python (`kcnn.store.upgrade.rekey_runs`), run in the same transaction.
_V3 = """
ALTER TABLE runs ADD COLUMN key_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN precision TEXT;
ALTER TABLE runs ADD COLUMN dataset_fingerprint TEXT;
ALTER TABLE runs ADD COLUMN train_loop_reason TEXT;
"""

# V4: validation that small data deserves (issue 16): the fold a run validates on, and its test-set accuracy.
_V4 = """
ALTER TABLE runs ADD COLUMN fold INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN test_accuracy REAL;
ALTER TABLE runs ADD COLUMN best_test_accuracy REAL;
"""

# V5: studies (issue 15): races and Optuna studies live in the store and own their runs; a pruned run has
# its own state. SQLite cannot change a CHECK constraint in place, so ``runs`` is rebuilt (every column and
# row copied, same ids) in the upgrade's one transaction, with foreign keys off while the table is swapped.
_V5 = f"""
CREATE TABLE studies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('race', 'optimize')),
    state TEXT NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'stopped')),
    settings TEXT NOT NULL,
    progress TEXT NOT NULL DEFAULT '{{}}',
    verdict TEXT,
    created REAL NOT NULL DEFAULT {NOW},
    finished REAL
);
CREATE TABLE runs_v5 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    config TEXT NOT NULL,
    config_key TEXT NOT NULL,
    seed INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled', 'pruned')),
    priority INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 0,
    retries INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    worker_id TEXT,
    lease_expires REAL,
    created REAL NOT NULL DEFAULT {NOW},
    started REAL,
    finished REAL,
    heartbeat REAL,
    epochs_total INTEGER NOT NULL,
    epochs_done INTEGER NOT NULL DEFAULT 0,
    checkpoint_epoch INTEGER NOT NULL DEFAULT 0,
    checkpoint TEXT,
    model TEXT,
    best_val_accuracy REAL,
    final_val_accuracy REAL,
    train_seconds REAL,
    images_per_second REAL,
    params INTEGER,
    flops_per_image INTEGER,
    device TEXT,
    error_kind TEXT,
    error_message TEXT,
    source TEXT NOT NULL DEFAULT 'queue',
    device_name TEXT,
    peak_flops REAL,
    train_loop TEXT,
    key_version INTEGER NOT NULL DEFAULT 1,
    precision TEXT,
    dataset_fingerprint TEXT,
    train_loop_reason TEXT,
    fold INTEGER NOT NULL DEFAULT 0,
    test_accuracy REAL,
    best_test_accuracy REAL,
    study_id INTEGER REFERENCES studies (id),
    trial INTEGER
);
INSERT INTO runs_v5 (
    id, config, config_key, seed, state, priority, attempt, retries, max_attempts, worker_id, lease_expires, created,
    started, finished, heartbeat, epochs_total, epochs_done, checkpoint_epoch, checkpoint, model, best_val_accuracy,
    final_val_accuracy, train_seconds, images_per_second, params, flops_per_image, device, error_kind, error_message,
    source, device_name, peak_flops, train_loop, key_version, precision, dataset_fingerprint, train_loop_reason, fold,
    test_accuracy, best_test_accuracy)
SELECT
    id, config, config_key, seed, state, priority, attempt, retries, max_attempts, worker_id, lease_expires, created,
    started, finished, heartbeat, epochs_total, epochs_done, checkpoint_epoch, checkpoint, model, best_val_accuracy,
    final_val_accuracy, train_seconds, images_per_second, params, flops_per_image, device, error_kind, error_message,
    source, device_name, peak_flops, train_loop, key_version, precision, dataset_fingerprint, train_loop_reason, fold,
    test_accuracy, best_test_accuracy
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v5 RENAME TO runs;
CREATE INDEX runs_claim ON runs (state, priority DESC, id);
CREATE INDEX runs_key ON runs (config_key, seed);
CREATE INDEX runs_study ON runs (study_id, trial);
"""

_V6 = """
ALTER TABLE runs ADD COLUMN keep TEXT NOT NULL DEFAULT 'final+best'
    CHECK (keep IN ('final+best', 'final', 'best', 'all', 'none'));
"""

# V7: budgeted studies (issue 25) are a third kind; the CHECK on ``kind`` changes, so ``studies`` is rebuilt
# (every row copied, same ids) with foreign keys off while the table is swapped, as V5 rebuilt ``runs``.
_V7 = f"""
CREATE TABLE studies_v7 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('race', 'optimize', 'answer')),
    state TEXT NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'stopped')),
    settings TEXT NOT NULL,
    progress TEXT NOT NULL DEFAULT '{{}}',
    verdict TEXT,
    created REAL NOT NULL DEFAULT {NOW},
    finished REAL
);
INSERT INTO studies_v7 (id, kind, state, settings, progress, verdict, created, finished)
SELECT id, kind, state, settings, progress, verdict, created, finished FROM studies;
DROP TABLE studies;
ALTER TABLE studies_v7 RENAME TO studies;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7)
SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    """Split a migration script into statements (triggers keep their bodies)."""
    found, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            found.append(current.strip())
            current = ""
    return found


def apply_migrations(conn: sqlite3.Connection, start: int) -> None:
    """Run the SQL of migrations `start` … `SCHEMA_VERSION` − 1 and set the version (in the caller's transaction)."""
    for script in MIGRATIONS[start:]:
        for statement in statements(script):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def create_schema(conn: sqlite3.Connection) -> None:
    """Give an empty database the current schema (inside the caller's transaction)."""
    apply_migrations(conn, 0)
    add_metric_columns(conn)


def missing_metric_columns(conn: sqlite3.Connection) -> list[Metric]:
    """The metrics of the run contract (`kcnn.contract.run_metrics`) that ``runs`` has no column for yet."""
    present = {str(row[1]) for row in conn.execute("PRAGMA table_info(runs)")}
    return [metric for metric in run_metrics() if metric.name not in present]


def add_metric_columns(conn: sqlite3.Connection) -> list[str]:
    """Add a column for every metric ``runs`` lacks (in the caller's transaction); their names.

    The columns follow from `kcnn.contract.METRICS`: a new metric needs no migration of its own, only
    ``kcnn store upgrade`` on stores made before it (which other commands ask for).
    """
    missing = missing_metric_columns(conn)
    for metric in missing:
        conn.execute(f"ALTER TABLE runs ADD COLUMN {metric.name} {metric.sql_type}")
    return [metric.name for metric in missing]
