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


def _done_with_files(store, config, accuracy, link_best=True):
    """A done run as a worker leaves it: epochs, the final model and the best model (linked when the same)."""
    from kcnn.contract import EpochRecord

    [added] = store.add_runs([config])
    claim = store.claim("w", run_id=added.run_id)
    store.record_epoch(claim, EpochRecord(epoch=1, val_accuracy=accuracy, seconds=1.0))
    folder = store.run_folder(added.run_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model-a1.keras").write_bytes(b"m" * 50_000)
    if link_best:
        (folder / "best-a1.keras").hardlink_to(folder / "model-a1.keras")
    else:
        (folder / "best-a1.keras").write_bytes(b"b" * 50_000)
    store.finish(claim, model="model-a1.keras")
    return added.run_id


def test_prune_keeps_the_top_configurations_models_and_leaves_every_number(tmp_path, capsys):
    """Issue 24: `kcnn store prune --keep-top N` removes the rest; reports are identical; --dry-run removes nothing."""
    from kcnn.config import ExperimentConfig
    from kcnn.contract import EpochRecord
    from kcnn.store import FailureKind

    path = tmp_path / "store"
    with Store(path) as store:
        runs = {(kernel, seed): _done_with_files(store, ExperimentConfig(kernel_size=kernel, seed=seed, epochs=1),
                                                 0.5 + kernel / 10 + seed / 100, link_best=seed == 0)
                for kernel in (2, 3, 4) for seed in (0, 1)}  # fmt: skip
        [failed, queued] = store.add_runs([ExperimentConfig(kernel_size=5, epochs=3), ExperimentConfig(seed=9)])
        for added in (failed, queued):  # both wrote a checkpoint after epoch 1
            claim = store.claim("w", run_id=added.run_id)
            store.run_folder(added.run_id).mkdir(parents=True)
            (store.run_folder(added.run_id) / "checkpoint-e1-a1.keras").write_bytes(b"c" * 10_000)
            store.record_epoch(claim, EpochRecord(epoch=1, val_accuracy=0.3, seconds=1.0), "checkpoint-e1-a1.keras")
            if added is failed:
                store.fail(claim, FailureKind.DIVERGED, "loss became NaN")
            else:
                store.release(claim)
    files = sorted(str(p.relative_to(path)) for p in (path / "artifacts").rglob("*.keras"))
    assert main(["store", "info", "--format", "json", "--store", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)  # what the store holds, by kind, a linked pair counted once
    assert info["artifacts_by_kind"] == {"resume checkpoints": 20_000, "final models": 6 * 50_000,
                                         "best-epoch models": 3 * 50_000, "other": 0}  # fmt: skip
    assert info["largest_runs"][0] == {"run": runs[(2, 1)], "bytes": 100_000}
    reports = (["leaderboard", "--format", "json"], ["effects", "--format", "json"], ["runs", "--format", "json"],
               ["runs", "export", "--format", "csv"])  # fmt: skip

    def read_reports():
        said = []
        for command in reports:
            assert main([*command, "--store", str(path)]) == 0
            said.append(capsys.readouterr().out)
        return said

    board = read_reports()
    assert main(["store", "prune", "--keep-top", "1", "--dry-run", "--format", "json", "--store", str(path)]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert sorted(str(p.relative_to(path)) for p in (path / "artifacts").rglob("*.keras")) == files  # untouched
    top = [runs[(4, 0)], runs[(4, 1)]]
    assert planned["runs"] == sorted({*runs.values(), failed.run_id} - set(top))
    # a linked pair is counted once; by default the top runs' best models go too (one of them linked: 0 bytes)
    assert planned["bytes"] == 2 * 50_000 + 2 * 100_000 + 10_000 + 50_000 and planned["trimmed"] == top
    assert main(["store", "prune", "--keep-top", "1", "--keep", "final+best", "--store", str(path)]) == 0
    assert capsys.readouterr().out == (
        "freed 0.3 MB: the model files of 5 run(s); the top 1 configuration(s) by best accuracy keep their final "
        "and best-epoch models\n"
    )
    left = sorted(str(p.relative_to(path)) for p in (path / "artifacts").rglob("*.keras"))
    assert left == sorted([f"artifacts/{run_id}/{name}" for run_id in top for name in ("best-a1.keras",
                           "model-a1.keras")] + [f"artifacts/{queued.run_id}/checkpoint-e1-a1.keras"])  # fmt: skip
    assert read_reports() == board  # every number stays: leaderboard, effects, runs, the export
    with Store(path) as store:
        assert store.get_run(failed.run_id).checkpoint is None  # a retry starts afresh
        assert store.get_run(queued.run_id).checkpoint == "checkpoint-e1-a1.keras"
    pruned = runs[(2, 0)]
    for command in (["model", "evaluate", str(pruned)], ["model", "predict", str(pruned), str(tmp_path)],
                    ["model", "export", str(pruned), "--output", str(tmp_path / "m.keras")]):  # fmt: skip
        assert main([*command, "--store", str(path)]) == 2
        err = capsys.readouterr().err
        assert "its model files were removed (kcnn store prune --keep-top 1); its numbers are kept" in err
        assert "train it again: kcnn train --kernel 2" in err and err.count("\n") == 1
    assert main(["run", "show", str(pruned), "--store", str(path)]) == 0
    assert "its model files were removed" in " ".join(capsys.readouterr().out.split())


def test_prune_by_default_keeps_the_top_runs_final_models_only_and_never_a_runs_last_model(tmp_path, capsys):
    """Issue 24: the top configurations keep the model every command uses (final); their best-epoch models go
    (a best linked to its final frees nothing), unless --keep final+best; a run with only a best model keeps it."""
    from kcnn.config import ExperimentConfig

    path = tmp_path / "store"
    with Store(path) as store:
        linked = _done_with_files(store, ExperimentConfig(kernel_size=4, seed=0, epochs=1), 0.9, link_best=True)
        apart = _done_with_files(store, ExperimentConfig(kernel_size=4, seed=1, epochs=1), 0.9, link_best=False)
        only_best = _done_with_files(store, ExperimentConfig(kernel_size=4, seed=2, epochs=1), 0.9, link_best=False)
        (store.run_folder(only_best) / "model-a1.keras").unlink()  # queued with --keep best
        other = _done_with_files(store, ExperimentConfig(kernel_size=2, seed=0, epochs=1), 0.5, link_best=False)
    assert main(["store", "prune", "--keep-top", "1", "--dry-run", "--format", "json", "--store", str(path)]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert (planned["keep"], planned["runs"], planned["trimmed"]) == ("final", [other], [linked, apart])
    assert planned["bytes"] == 2 * 50_000 + 50_000  # the linked best frees nothing
    assert main(["store", "prune", "--keep-top", "1", "--store", str(path)]) == 0
    assert capsys.readouterr().out == (
        "freed 0.1 MB: the model files of 1 run(s) and the best-epoch models of 2 top run(s); the top 1 "
        "configuration(s) by best accuracy keep their final models (--keep final+best keeps both)\n"
    )
    left = sorted(str(p.relative_to(path / "artifacts")) for p in (path / "artifacts").rglob("*.keras"))
    assert left == sorted([f"{linked}/model-a1.keras", f"{apart}/model-a1.keras", f"{only_best}/best-a1.keras"])
    assert main(["model", "evaluate", str(apart), "--model", "best", "--store", str(path)]) == 2
    err = capsys.readouterr().err
    assert "its model files were removed (kcnn store prune --keep-top 1 --keep final)" in err
    assert err.count("\n") == 1
