"""What a killed process left (temporaries, scratch folders) is removed by the next kcnn process; not a live one's."""

import os
import subprocess
import sys
from pathlib import Path

from kcnn.files import remove_stale_scratch, remove_stale_temporaries, scratch_folder


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_only_a_dead_process_temporaries_are_removed(tmp_path):
    dead = _dead_pid()
    stale = [tmp_path / f".checkpoint-e3-a1.{dead}.tmp.keras", tmp_path / f".0123abcd.{dead}.tmp"]
    alive = tmp_path / f".model-a1.{os.getppid()}.tmp.keras"
    kept = tmp_path / "model-a1.keras"
    for path in (*stale, alive, kept):
        path.write_bytes(b"x")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, kept.name])


def test_only_a_dead_process_scratch_folders_are_removed(tmp_path):
    dead = _dead_pid()
    stale = [tmp_path / f"{prefix}{dead}-a1b2" for prefix in ("kcnn-slot-", "kcnn-warm-up-", "kcnn-train-")]
    for folder in stale:
        (folder / "store").mkdir(parents=True)
        (folder / "store" / "resume.keras").write_bytes(b"x" * 1000)
    alive = tmp_path / f"kcnn-slot-{os.getppid()}-d4"
    others = [tmp_path / f"kcnn-slot-{dead}", tmp_path / "kcnn-slot-abc-1", tmp_path / f"other-{dead}-e5"]
    for folder in (alive, *others):
        folder.mkdir()
    (tmp_path / f"kcnn-train-{dead}-file").write_bytes(b"not a folder")
    assert sorted(remove_stale_scratch(tmp_path)) == sorted(stale)
    left = sorted(path.name for path in tmp_path.iterdir())
    assert left == sorted([alive.name, *(folder.name for folder in others), f"kcnn-train-{dead}-file"])


def test_a_scratch_folder_carries_its_process_id_and_is_left_alone_while_it_lives(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with scratch_folder("kcnn-slot-") as folder:
        assert Path(folder).name.startswith(f"kcnn-slot-{os.getpid()}-")
        assert remove_stale_scratch() == [] and Path(folder).is_dir()
    assert list(tmp_path.iterdir()) == []
