"""A worker child: one long-lived process that imports keras once and trains run after run.

Started by `kcnn.queue.local_pool` as ``python -m kcnn.queue.child SETTINGS PLACE`` (two JSON objects: the
worker's `WorkerSettings` and this slot's id prefix, device and threads); not a user command. It claims
runs itself (atomically), so children never share one. The first time it finds the queue empty it warms up
(`kcnn.queue.warmup`), so the first run of the next sweep starts as fast as the ones after it.
SIGTERM or SIGINT: abandon the current epoch, put the run back in the queue,
exit. A second signal exits at once (the lease then expires and is reaped).
If the supervisor dies, the child stops the same polite way.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
from types import FrameType

from kcnn.queue.settings import EXIT_DISK_FULL, EXIT_LOW_SPACE, WorkerSettings

EXIT_STOPPED = 0


def child_worker_id(base: str, pid: int) -> str:
    """The worker id of the child with process id `pid` under supervisor id `base`."""
    return f"{base}:{pid}"


def supervisor_id(slot: int) -> str:
    """The id prefix of a supervisor's slot: host, supervisor pid and slot."""
    return f"{socket.gethostname()}:{os.getpid()}:{slot}"


def _parse(argv: list[str] | None) -> tuple[WorkerSettings, str, str, int]:
    """The worker's settings, and this slot's worker id prefix, device and threads."""
    parser = argparse.ArgumentParser(prog="kcnn-worker-child")
    parser.add_argument("settings", help="the worker's settings (JSON of `WorkerSettings`)")
    parser.add_argument("place", help="this slot: {worker_base, device, threads} as JSON")
    args = parser.parse_args(argv)
    place = json.loads(args.place)
    settings = WorkerSettings.from_json(args.settings)
    return settings, str(place["worker_base"]), str(place["device"]), int(place["threads"])


def main(argv: list[str] | None = None) -> int:
    """Claim and train runs until stopped (or, with ``--once``, until the queue is empty)."""
    worker, worker_base, device, threads = _parse(argv)
    if threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[name] = str(threads)
    stop = threading.Event()
    signals_seen = [0]

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals_seen[0] += 1
        if signals_seen[0] > 1:
            os._exit(130)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    parent = os.getppid()
    threading.Thread(target=_watch_parent, args=(parent, stop), daemon=True).start()

    from kcnn.training.backend import import_keras

    import_keras()
    import torch

    if threads:
        torch.set_num_threads(threads)
    from kcnn.errors import StoreFull
    from kcnn.files import remove_stale_scratch
    from kcnn.queue.disk_space import LowDiskSpace
    from kcnn.queue.fusion import execute_group, group_size
    from kcnn.queue.runner import RunSettings, execute_claim
    from kcnn.queue.serve import serve_claims
    from kcnn.store import Store

    remove_stale_scratch()  # the temporary folders of kcnn processes killed on this machine
    worker_id = child_worker_id(worker_base, os.getpid())
    settings = RunSettings(
        device=device,
        lease_seconds=worker.lease_seconds,
        stall_seconds=worker.stall_seconds or None,
        checkpoint_seconds=worker.checkpoint_seconds,
    )
    with Store(worker.store_path) as store:
        try:
            serve_claims(
                store,
                worker_id,
                lambda claim: execute_claim(store, claim, settings, stop=stop),
                stop=stop,
                lease_seconds=worker.lease_seconds,
                poll_seconds=worker.poll_seconds,
                once=worker.once,
                on_first_idle=lambda: _warm_up(worker_id, device),
                log=lambda line: print(line, flush=True),
                group_size=lambda claim: group_size(claim, device, worker.fuse),
                execute_group=lambda claims: execute_group(worker.store_path, claims, settings, stop),
            )
        except StoreFull as error:  # nothing can be recorded: one line, and the supervisor stops the worker
            print(f"[{worker_id}] stopping: {error}", file=sys.stderr, flush=True)
            return EXIT_DISK_FULL
        except LowDiskSpace:  # said by the claim loop; the supervisor starts no more children
            return EXIT_LOW_SPACE
    return EXIT_STOPPED


def _warm_up(worker_id: str, device: str) -> None:
    """Use the first idle moment to pay the first run's one-off costs (see `kcnn.queue.warmup`)."""
    from kcnn.queue.warmup import warm_up

    try:
        seconds = warm_up(device)
    except Exception as error:  # a broken device fails the first run, which records why
        print(f"[{worker_id}] warm-up failed ({type(error).__name__}: {error}); runs will start cold", flush=True)
        return
    print(f"[{worker_id}] ready, waiting for runs (warmed up in {seconds:.1f} s)", flush=True)


def _watch_parent(parent: int, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        if os.getppid() != parent:
            stop.set()


def exit_now(code: int) -> None:
    """Exit without the interpreter's teardown of torch and keras (about 2 s here).

    Only called once `main` has returned: the store is closed, every artifact was written
    atomically and every run was finished or released, so nothing is left to flush but stdio.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
