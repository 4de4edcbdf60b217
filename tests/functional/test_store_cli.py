"""`kcnn store info|upgrade` end to end, and every other command refusing an older store in one line."""

import json

import pytest
from old_stores import OLD_CONFIG, version_2_store

from kcnn.cli import main
from kcnn.store import Store
from kcnn.store.schema import SCHEMA_VERSION


def test_an_old_store_is_refused_until_upgraded(tmp_path, capsys):
    folder = version_2_store(tmp_path / "old", [OLD_CONFIG])
    for command in (["runs"], ["leaderboard"], ["queue", "add", "--epochs", "1"], ["worker", "--once"]):
        assert main([*command, "--store", str(folder)]) == 2, command
        error = capsys.readouterr().err
        assert error.startswith(f"error: The store at '{folder}' has schema version 2; this kcnn needs"), error
        assert "`kcnn store upgrade --store" in error and "\n" not in error.rstrip("\n"), error

    assert main(["store", "info", "--store", str(folder), "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["schema_version"], info["needs_upgrade"], info["runs_by_state"]) == (2, True, {"done": 1})

    assert main(["store", "upgrade", "--store", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"upgraded schema 2 → {SCHEMA_VERSION}; 1 run(s) re-keyed; backup at " in out
    assert (folder / "kcnn.sqlite.v2.bak").is_file()
    assert main(["runs", "--store", str(folder), "--format", "json"]) == 0
    [run] = json.loads(capsys.readouterr().out)
    assert run["config.color_mode"] == "rgb" and run["key_version"] == 2 and run["precision"] == "float32"
    assert main(["store", "upgrade", "--store", str(folder)]) == 0
    assert "nothing to do" in capsys.readouterr().out


def _read_only_mounts_work() -> bool:
    import os
    import shutil
    import subprocess

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", "mount --bind /tmp /tmp"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.slow
def test_a_store_on_a_read_only_disk_is_read_and_refuses_changes_naming_the_cause(tmp_path):
    """Mounted read-only (a private mount namespace, as root): reads work, writes say why not, in one line."""
    import subprocess
    import sys

    import pytest

    if not _read_only_mounts_work():
        pytest.skip("needs root and `unshare --mount` to mount the store read-only")
    from kcnn.config import ExperimentConfig
    from kcnn.store import Store

    folder = tmp_path / "store"
    with Store(folder) as store:
        store.add_runs([ExperimentConfig(epochs=1)])
    mount = f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder}"

    def read_only(*argv: str) -> subprocess.CompletedProcess:
        command = " ".join([sys.executable, "-m", "kcnn.cli", *argv, "--store", str(folder)])
        return subprocess.run(
            ["unshare", "--mount", "sh", "-c", f"{mount} && {command}"], capture_output=True, text=True
        )

    for reader in (
        ("runs", "--format", "json"),
        ("run", "show", "1"),
        (
            "runs",
            "export",
        ),
        ("store", "info"),
    ):
        done = read_only(*reader)
        assert done.returncode == 0, (reader, done.stderr)
    assert json.loads(read_only("runs", "--json").stdout)[0]["state"] == "queued"
    for writer in (("queue", "add", "--epochs", "1"), ("queue", "cancel", "1"), ("worker", "--once")):
        done = read_only(*writer)
        assert done.returncode == 2, (writer, done.stderr)
        assert done.stderr.startswith(
            f"error: The store at '{folder}' cannot be changed: it is on a read-only file system."
        )
        assert done.stderr.count("\n") == 1
    with Store(folder) as store:
        assert [run.state for run in store.runs()] == ["queued"]  # nothing changed


def test_queue_add_on_a_full_disk_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    """Issue 23, case 12: it said the store "could not be read … newer or damaged" (it was intact)."""
    store_path = tmp_path / "runs"
    assert main(["queue", "add", "--epochs", "1", "--store", str(store_path)]) == 0
    opened = Store.__init__

    def full_disk(self, *args, **kwargs):
        opened(self, *args, **kwargs)
        pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
        self._conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite answers SQLITE_FULL, as on a full disk

    monkeypatch.setattr(Store, "__init__", full_disk)
    capsys.readouterr()
    assert main(["queue", "add", "--epochs", "1", "--seed", *map(str, range(1, 400)), "--store", str(store_path)]) == 2
    err = capsys.readouterr().err
    assert "is full (database or disk is full); nothing was changed and the store is intact" in err
    assert err.count("\n") == 1 and "newer or damaged" not in err
