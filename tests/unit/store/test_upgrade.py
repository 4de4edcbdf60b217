"""Explicit store upgrades: refused on open, done by `upgrade_store` with a backup, in one transaction."""

import sqlite3

import pytest
from old_stores import OLD_CONFIG, schema_store, version_2_store

from kcnn.config import KEY_VERSION, ExperimentConfig
from kcnn.errors import StoreError
from kcnn.store import Store
from kcnn.store.schema import SCHEMA_VERSION
from kcnn.store.upgrade import store_info, upgrade_store


def test_an_older_store_is_refused_with_the_command_that_upgrades_it(tmp_path):
    folder = version_2_store(tmp_path / "old", [OLD_CONFIG])
    with pytest.raises(StoreError) as raised:
        Store(folder)
    assert str(raised.value) == (
        f"The store at {str(folder)!r} has schema version 2; this kcnn needs {SCHEMA_VERSION}. "
        f"Run `kcnn store upgrade --store {folder}` (it backs the store up first)."
    )
    connection = sqlite3.connect(folder / "kcnn.sqlite")
    assert connection.execute("PRAGMA user_version").fetchone()[0] == 2  # opening changed nothing
    connection.close()


def test_upgrade_backs_up_migrates_and_rekeys_every_run_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    relative = {**OLD_CONFIG, "dataset": "photos", "color_mode": "grayscale", "seed": 1}
    folder = version_2_store(tmp_path / "old", [OLD_CONFIG, relative])
    info = store_info(folder)
    assert (info.schema_version, info.needs_upgrade, info.runs_by_state) == (2, True, {"done": 2})

    report = upgrade_store(folder, resolve_color_mode=lambda dataset, mode: "rgb")
    assert (report.from_version, report.to_version, report.rekeyed) == (2, SCHEMA_VERSION, 2)
    assert report.backup == folder / "kcnn.sqlite.v2.bak"
    backup = sqlite3.connect(report.backup)
    assert backup.execute("PRAGMA user_version").fetchone()[0] == 2
    assert backup.execute("SELECT config_key FROM runs").fetchall() == [("oldkey",), ("oldkey",)]
    backup.close()

    with Store(folder) as store:
        first, second = store.runs()
        events = [e["kind"] for e in store.events(first.id)]
    expected = ExperimentConfig.from_dict({**OLD_CONFIG, "color_mode": "rgb"})
    assert first.config_key == expected.config_key and first.key_version == KEY_VERSION
    assert first.config_dict["color_mode"] == "rgb" and first.precision == "float32"
    assert second.config_dict["dataset"] == str(tmp_path / "photos")
    assert first.images_per_second == 200.0  # the median of 100, 900 and 200, not the stored mean
    assert "rekeyed" in events
    assert first.config_problem is None and second.config_problem is None  # config and key agree
    assert upgrade_store(folder).backup is None  # a second upgrade has nothing to do


def test_upgrade_keys_an_old_config_as_the_reader_does_when_it_misses_a_field_or_has_a_scalar(tmp_path):
    """Issue 23, case 15: a schema-2 config without `stride`, or with a scalar `kernel_size`, was re-keyed by the
    upgrade, then reported by every reader as not matching its key and left out of the statistics."""
    no_stride = {key: value for key, value in OLD_CONFIG.items() if key != "stride"}
    scalar = {**OLD_CONFIG, "kernel_size": 2, "dilation": 2, "seed": 1}
    folder = version_2_store(tmp_path / "old", [no_stride, scalar])
    upgrade_store(folder, resolve_color_mode=lambda dataset, mode: "rgb")
    with Store(folder) as store:
        runs = store.runs()
    assert [run.config_problem for run in runs] == [None, None]
    assert runs[0].config_key == runs[1].config_key  # the same configuration, two seeds: repeats
    assert runs[0].config_key == ExperimentConfig.from_dict({**OLD_CONFIG, "color_mode": "rgb"}).config_key


def test_upgrade_leaves_a_damaged_row_as_it_is_and_says_so(tmp_path):
    folder = version_2_store(tmp_path / "old", [OLD_CONFIG, {**OLD_CONFIG, "seed": 1}])
    connection = sqlite3.connect(folder / "kcnn.sqlite")
    connection.execute("UPDATE runs SET config = '[1, 2]' WHERE id = 2")
    connection.commit()
    connection.close()
    assert upgrade_store(folder, resolve_color_mode=lambda dataset, mode: "rgb").rekeyed == 1
    with Store(folder) as store:
        good, damaged = store.runs()
        assert good.config_problem is None
        assert damaged.config == "[1, 2]" and damaged.config_problem == "A config must be a JSON object; got list."
        assert "damaged_config" in [e["kind"] for e in store.events(damaged.id)]


def test_a_failed_upgrade_changes_nothing(tmp_path):
    folder = version_2_store(tmp_path / "old", [OLD_CONFIG])

    def broken(dataset, mode):
        raise sqlite3.OperationalError("disk I/O error")

    with pytest.raises(StoreError, match="failed, nothing changed"):
        upgrade_store(folder, resolve_color_mode=broken)
    assert store_info(folder).schema_version == 2


def test_a_newer_store_is_refused(tmp_path):
    folder = version_2_store(tmp_path / "new", [OLD_CONFIG])
    connection = sqlite3.connect(folder / "kcnn.sqlite")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.commit()
    connection.close()
    with pytest.raises(StoreError, match="newer than this kcnn's"):
        upgrade_store(folder)


def test_reading_a_missing_store_creates_nothing(tmp_path):
    with pytest.raises(StoreError, match=r"^There is no kcnn store at"):
        Store(tmp_path / "typo", create=False)
    with pytest.raises(StoreError, match=r"^There is no kcnn store at"):
        store_info(tmp_path / "typo")
    assert list(tmp_path.iterdir()) == []


def test_a_store_folder_whose_name_looks_like_a_uri_opens_where_it_says(tmp_path):
    folder = tmp_path / "runs?mode=ro#1 %20"
    Store(folder).close()
    assert (folder / "kcnn.sqlite").is_file() and sorted(p.name for p in tmp_path.iterdir()) == [folder.name]
    with Store(folder, create=False) as store:
        assert store.runs() == []


def test_upgrading_a_version_3_store_adds_folds_test_accuracies_studies_and_the_pruned_state(tmp_path):
    folder = tmp_path / "v3"
    connection = schema_store(folder, 3)
    config = ExperimentConfig(input_size=16, channels=(4,), epochs=1)
    connection.execute(
        "INSERT INTO runs (config, config_key, key_version, seed, state, epochs_total, best_val_accuracy) "
        "VALUES (?, ?, ?, 0, 'done', 1, 0.5)",
        (config.to_json(), config.config_key, KEY_VERSION),
    )
    connection.execute("INSERT INTO epochs (run_id, epoch, attempt, val_accuracy) VALUES (1, 1, 1, 0.5)")
    connection.execute("INSERT INTO events (run_id, kind) VALUES (1, 'done')")
    connection.commit()
    connection.close()
    with pytest.raises(StoreError, match="has schema version 3"):
        Store(folder)
    report = upgrade_store(folder)
    assert (report.from_version, report.to_version, report.rekeyed) == (3, SCHEMA_VERSION, 0)
    with Store(folder) as store:
        [run] = store.runs()
        assert [e["val_accuracy"] for e in store.epochs(run.id)] == [0.5]  # epochs still point at their run
        assert [e["kind"] for e in store.events(run.id)] == ["done"]
        assert (run.id, run.state, run.best_val_accuracy, run.config_key) == (1, "done", 0.5, config.config_key)
        assert (run.fold, run.test_accuracy, run.study_id, run.trial) == (0, None, None, None)
        assert store.count_by_state()["pruned"] == 0
        [added] = store.add_runs([config.replace(seed=1)])
    assert added.run_id == 2  # AUTOINCREMENT carried over the rebuilt table
    check = sqlite3.connect(folder / "kcnn.sqlite")
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert check.execute("PRAGMA foreign_key_check").fetchall() == []
    check.close()


def test_upgrading_a_file_that_is_not_a_database_is_a_store_error_like_every_other_command(tmp_path):
    """Issue 23, case 23: `store upgrade` on a garbage file exited 1 where the other commands exit 2."""
    from kcnn.cli import main

    folder = tmp_path / "garbage"
    folder.mkdir()
    (folder / "kcnn.sqlite").write_bytes(bytes(range(256)) * 20)
    with pytest.raises(StoreError, match="cannot be read: file is not a database; nothing was changed"):
        upgrade_store(folder)
    assert main(["store", "upgrade", "--store", str(folder)]) == 2
