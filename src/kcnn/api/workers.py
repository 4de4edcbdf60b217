"""Workers through the facade: train the queue (local children or Ray), list the live workers, stop one."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kcnn.api.workspace import StoreLike, engine_store
from kcnn.errors import ConfigError
from kcnn.queue.settings import CHECKPOINT_SECONDS
from kcnn.store import Store, default_store_path

if TYPE_CHECKING:
    from kcnn.queue.local_pool import ChildProcesses
    from kcnn.queue.ray_head import RayPool
    from kcnn.queue.registry import WorkerInfo
    from kcnn.queue.settings import WorkerSettings


def _path_of(store: StoreLike | str | os.PathLike[str] | None) -> Path:
    if store is None:
        return default_store_path()
    if isinstance(store, str | os.PathLike):
        return Path(store)
    return engine_store(store).path


def run_workers(
    store: StoreLike | str | os.PathLike[str] | None = None,
    *,
    jobs: int | None = None,
    gpus: Sequence[int] | None = None,
    per_gpu: int | None = None,
    once: bool = False,
    lease_seconds: float = 60.0,
    poll_seconds: float = 1.0,
    stall_seconds: float = 0.0,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
    log: Callable[[str], None] = print,
    ray: str | None = None,
    cpus_per_run: float | None = None,
    fuse: int = 0,
) -> int:
    """Train queued runs with worker children until stopped (or, with `once`, until the queue is empty).

    With `ray`, this process becomes a Ray head instead (`kcnn.queue.ray_head`): it stays the store's
    only writer and trains each run on a Ray actor, one per slot, anywhere on the cluster.

    Args:
        store: The store or its folder. Defaults to ``$KCNN_STORE`` or ``./kcnn-runs``.
        jobs: CPU children (the cores are split among them); with `ray`, the number of slots. Defaults to one
            (with `ray`: as many as the cluster's resources hold).
        gpus: GPU indices to train on instead of the CPU (not with `ray`: Ray places GPU slots).
        per_gpu: Children (with `ray`: slots) per GPU. With `ray`, asking for it makes GPU slots.
        once: Exit when the queue is empty.
        lease_seconds: How long a claim lasts without a heartbeat.
        poll_seconds: How often an idle child looks for work.
        stall_seconds: End a child whose run makes no step for this long (0: never).
        checkpoint_seconds: Seconds of training between checkpoints (0: every epoch).
        log: Where the supervisor's lines go.
        ray: Train on Ray: a cluster address, ``auto`` (the cluster this machine belongs to) or ``local``
            (start a Ray instance on this machine). Needs ``kcnn[ray]``.
        cpus_per_run: With `ray`: CPUs each slot reserves (CPU slots: default 1; GPU slots: default 0).
        fuse: At most this many runs each slot claims at a time and trains as one program when they differ only
            in seed and learning rate (`kcnn.training.fused`). 0 (the default) lets kcnn choose: on a GPU up to
            16, as the GPU's free memory allows; on a CPU one at a time (fusing was measured slower there). 1
            trains one run at a time. Local slots only.

    Returns:
        The supervisor's exit code (0 when it stopped cleanly).

    Raises:
        KcnnError: For impossible slot settings, a store that cannot be opened, or `ray` without Ray installed.
    """
    from kcnn.queue.settings import WorkerSettings

    path = _path_of(store)
    settings = WorkerSettings(path, once=once, lease_seconds=lease_seconds, poll_seconds=poll_seconds,
                              stall_seconds=stall_seconds, checkpoint_seconds=checkpoint_seconds,
                              fuse=fuse)  # fmt: skip
    executor = (
        _ray_pool(settings, ray, jobs=jobs, gpus=gpus, per_gpu=per_gpu, cpus_per_run=cpus_per_run, log=log)
        if ray is not None
        else _child_processes(settings, jobs=jobs, gpus=gpus, per_gpu=per_gpu, cpus_per_run=cpus_per_run, log=log)
    )
    from kcnn.queue.supervisor import Supervisor

    return Supervisor(executor, settings, log).run()


def _child_processes(
    settings: WorkerSettings,
    *,
    jobs: int | None,
    gpus: Sequence[int] | None,
    per_gpu: int | None,
    cpus_per_run: float | None,
    log: Callable[[str], None],
) -> ChildProcesses:
    """Local child processes for `run_workers` (see `kcnn.queue.local_pool`)."""
    from kcnn.queue.local_pool import ChildProcesses, plan_slots

    if cpus_per_run is not None:
        raise ConfigError("`cpus_per_run` (`--cpus-per-run`) is for Ray slots; local CPU workers split the cores "
                          "with `--jobs N`.")  # fmt: skip
    per_gpu = 1 if per_gpu is None else per_gpu
    if gpus:
        from kcnn.training.devices import check_gpus

        check_gpus(list(gpus))  # refused here, not as every claimed run failing in its child
    slots = plan_slots(jobs=jobs, gpus=gpus, per_gpu=per_gpu)
    Store(settings.store_path).close()  # create it, or fail with a clear message, before starting children
    where = f"GPUs {','.join(map(str, gpus))} × {per_gpu}" if gpus else f"CPU, {slots[0].threads} thread(s) each"
    fused = f", each training up to {settings.fuse} runs as one program" if settings.fuse > 1 else ""
    if gpus and settings.fuse == 0:
        fused = ", each training runs of one shape as one program as GPU memory allows (--fuse 1: one at a time)"
    log(
        f"{len(slots)} child process(es) on {where}{fused}; store {settings.store_path}"
        + ("; exits when the queue is empty" if settings.once else "; Ctrl-C to stop")
    )
    return ChildProcesses(slots, settings, log)


def _ray_pool(
    settings: WorkerSettings,
    address: str,
    *,
    jobs: int | None,
    gpus: Sequence[int] | None,
    per_gpu: int | None,
    cpus_per_run: float | None,
    log: Callable[[str], None],
) -> RayPool:
    """Ray slots for `run_workers` (see `kcnn.queue.ray_head.RayPool`)."""
    from kcnn.queue.ray_head import RayPool, import_ray

    if gpus:
        raise ConfigError("`--gpus` picks this machine's GPUs; on Ray, ask for GPU slots with `--per-gpu N` "
                          "and Ray places them on the cluster's GPUs.")  # fmt: skip
    if settings.fuse > 1:
        raise ConfigError("`--fuse` trains runs as one program in a local child; Ray slots train one run at a time "
                          "(drop `--fuse`, or run `kcnn worker --gpus 0 --fuse K` on the GPU machine).")  # fmt: skip
    if settings.stall_seconds:
        raise ConfigError("`--stall` ends a stalled local child; it is not available with `--ray` (leases and "
                          "Ray's own restarts cover a lost slot).")  # fmt: skip
    import_ray()  # the one line naming the extra, before the store is touched
    Store(settings.store_path).close()
    return RayPool(settings, address, jobs=jobs, per_gpu=per_gpu, cpus_per_run=cpus_per_run, log=log)


def live_workers(store: StoreLike | str | os.PathLike[str]) -> list[WorkerInfo]:
    """The worker supervisors alive on this store (pid, slots, start time), from its worker registry."""
    from kcnn.queue.registry import live_workers as registered

    return registered(_path_of(store))


def stop_worker(store: StoreLike | str | os.PathLike[str], pid: int) -> bool:
    """Ask the worker supervisor `pid` of this host to stop (SIGTERM): its runs go back to the queue.

    The process is signalled only if it is the kcnn worker that registered on this store (same PID,
    start time and command), never a process that reused the PID of a killed one.

    Returns:
        Whether the worker was signalled.
    """
    import signal

    from kcnn.queue.registry import signal_worker

    return signal_worker(_path_of(store), pid, signal.SIGTERM)
