"""The worker registry never trusts a PID alone: a killed worker's file is stale, its PID may be reused."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from kcnn import api
from kcnn.queue import registry


def _entry(store, pid, process_start):
    folder = store / "workers"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{socket.gethostname()}-{pid}.json"
    info = {"pid": pid, "host": socket.gethostname(), "slots": ["cpu"], "started": time.time(), "once": False,
            "process_start": process_start}  # fmt: skip
    path.write_text(json.dumps(info))
    return path


@pytest.mark.slow
def test_a_reused_pid_is_stale_and_never_signalled(tmp_path):
    # What a SIGKILLed worker leaves: its file, naming a PID that an unrelated `sleep` now has.
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        stale = _entry(tmp_path, sleeper.pid, process_start="1")  # not the sleeper's start time
        assert api.stop_worker(tmp_path, sleeper.pid) is False
        time.sleep(0.2)
        assert sleeper.poll() is None  # the unrelated process lives
        assert not stale.exists()  # and the stale entry is gone
        assert api.live_workers(tmp_path) == []
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.slow
def test_a_process_with_the_recorded_start_but_not_kcnn_is_not_that_worker(tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        _entry(tmp_path, sleeper.pid, process_start=registry.process_start(sleeper.pid))
        assert api.live_workers(tmp_path) == []  # right PID and start, but its command is not kcnn
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.slow
def test_the_registered_worker_itself_is_listed_and_stopped(tmp_path):
    script = (
        "import sys, time, signal; from pathlib import Path; from kcnn.queue import registry\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n"
        f"registry.register(Path({str(tmp_path)!r}), ['cpu'], False)\n"
        "print('ready', flush=True); time.sleep(60)\n"
    )
    worker = subprocess.Popen([sys.executable, "-c", script, "kcnn-worker"], stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline().strip() == "ready"
        [info] = api.live_workers(tmp_path)
        assert info.pid == worker.pid and info.process_start == registry.process_start(worker.pid)
        assert api.stop_worker(tmp_path, worker.pid) is True
        assert worker.wait(timeout=10) == 7
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait()
    assert api.live_workers(tmp_path) == []


@pytest.mark.slow
def test_a_dead_pid_and_a_garbled_entry_are_ignored(tmp_path):
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    stale = _entry(tmp_path, done.pid, process_start=None)
    (tmp_path / "workers" / "garbled.json").write_text('{"pid": "x"')
    assert api.live_workers(tmp_path) == [] and not stale.exists()
    assert api.stop_worker(tmp_path, done.pid) is False


def test_an_entry_without_a_start_time_is_never_signalled_even_if_the_pid_runs_kcnn(tmp_path):
    """Issue 23, case 13: an older entry (no process_start) whose PID was reused by a "kcnn" process was signalled."""
    impostor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "kcnn"])
    try:
        time.sleep(0.2)
        assert "kcnn" in registry._command_line(impostor.pid)
        old = _entry(tmp_path, impostor.pid, process_start=None)
        assert api.stop_worker(tmp_path, impostor.pid) is False
        assert impostor.poll() is None and not old.exists()
    finally:
        impostor.kill()
        impostor.wait()


def test_an_entry_being_rewritten_is_listed_once(tmp_path, monkeypatch):
    """`register` rewrites an entry through a temporary `.NAME.PID.tmp.json` beside it; a reader meanwhile saw
    the worker twice, and the TUI's workers table stopped on the duplicate row (seen in CI)."""
    monkeypatch.setattr(registry, "_command_line", lambda pid: "python -m kcnn.cli worker")
    entry = _entry(tmp_path, os.getpid(), registry.process_start(os.getpid()))
    temporary = entry.with_name(f".{entry.stem}.{os.getpid()}.tmp.json")
    temporary.write_text(entry.read_text())
    assert [info.pid for info in api.live_workers(tmp_path)] == [os.getpid()]
    assert temporary.exists()  # a writer's file, left to it
