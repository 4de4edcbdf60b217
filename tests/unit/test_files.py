"""Temporaries a killed process left are removed by the next owner of the folder; a living one's are kept."""

import os
import subprocess
import sys

from kcnn.files import remove_stale_temporaries


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
