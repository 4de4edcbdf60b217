"""`kcnn worker --ray`: the head that trains queued runs on a Ray cluster, and the store's only writer.

It runs where the store is. It starts one long-lived actor per slot (`kcnn.queue.ray_slot`):
``num_gpus = 1/per_gpu`` on GPU nodes, or ``num_cpus = cpus_per_run`` on CPU nodes; each actor
imports keras once and trains run after run. One thread per slot claims runs exactly as a local
worker child does (`kcnn.queue.serve`: leases, heartbeats, fenced writes, studies advanced first)
and executes them with `execute_claim` through a `RemoteTrainer`, so epochs, checkpoints and models
come back here and are written here.

Faults: an actor or node that dies fails the run's attempt as ``crashed`` (requeued while attempts
remain, resumed from its last checkpoint on any slot) and Ray restarts the actor on a live node;
the slot claims nothing until its actor answers again. A head that dies leaves leases that lapse;
the next head (or `kcnn queue reap`) requeues those runs. First SIGINT/SIGTERM: every slot abandons
its epoch and puts its run back in the queue; a second: runs are released at once and the head exits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from kcnn.errors import KcnnError, LeaseLost
from kcnn.queue import registry
from kcnn.queue.ray_slot import SlotActor
from kcnn.queue.ray_trainer import DatasetCache, RemoteTrainer, SlotLost, first_line
from kcnn.queue.runner import CHECKPOINT_SECONDS, Execution, Outcome, RunSettings, execute_claim
from kcnn.queue.serve import LeaseReaper, serve_claims
from kcnn.store import Claim, FailureKind, Store

INSTALL_HINT = "pip install 'kcnn[ray]'"
CRASH_BACKOFF_SECONDS = 2.0
STARTUP_WAIT_SECONDS = 300.0
"""How long the head waits for every actor before it starts serving with those that answer."""


def import_ray() -> Any:
    """Ray, or one line naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise KcnnError(f"Ray clusters need Ray: {INSTALL_HINT}.") from None
    return ray


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in one line when nothing answers at the cluster's address (Ray itself would retry for minutes).

    ``auto`` is resolved as Ray resolves it (``RAY_ADDRESS``, else the cluster last started on this machine).

    Raises:
        KcnnError: If no cluster is found, or its address does not accept connections.
    """
    target = address
    if address == "auto":  # Ray's own resolution (RAY_ADDRESS, else the cluster last started here) is not public:
        target = os.environ.get("RAY_ADDRESS", "").strip()  # check an explicit address; else `ray.init` resolves
        if not target or target == "auto":
            return
    host, _, port = target.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise KcnnError(f"`--ray` takes auto, HOST:PORT or nothing (start Ray here); got {address!r}.")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise KcnnError(
            f"Cannot reach the Ray cluster at {target} ({reason}); start it there with `ray start --head`, "
            f"or check the address and that port {port} is open."
        ) from None


@dataclass(frozen=True)
class RaySlotPlan:
    """What each slot's actor asks Ray for, and how many slots."""

    count: int
    num_cpus: float
    num_gpus: float
    threads: int
    device: str
    fits: int
    """How many of the slots the cluster's resources hold now (the others start when it grows)."""

    def describe(self) -> str:
        """E.g. ``4 slot(s), 1/4 GPU each`` or ``2 slot(s), 1 CPU each``."""
        if self.num_gpus:
            share = "1 GPU" if self.num_gpus == 1 else f"1/{round(1 / self.num_gpus)} GPU"
            return f"{self.count} slot(s), {share} each"
        return f"{self.count} slot(s), {self.num_cpus:g} CPU each"


def plan_ray_slots(
    resources: dict[str, float],
    *,
    jobs: int | None = None,
    per_gpu: int | None = None,
    cpus_per_run: float | None = None,
) -> RaySlotPlan:
    """The slots for the cluster's resources: ``per_gpu`` actors per GPU, or one per ``cpus_per_run`` CPUs.

    Args:
        resources: ``ray.cluster_resources()``.
        jobs: Use exactly this many slots (default: as many as the cluster's resources hold).
        per_gpu: Slots per GPU (GPU slots); `None` for CPU slots.
        cpus_per_run: CPUs each CPU slot reserves (default 1); for GPU slots, CPUs reserved besides the
            GPU share (default 0: on a node with few CPUs, GPU slots must not wait for CPUs).

    Raises:
        KcnnError: For a GPU request on a cluster without GPUs, or a CPU share larger than the cluster.
    """
    if cpus_per_run is not None and cpus_per_run <= 0:
        raise KcnnError(f"`--cpus-per-run` must be greater than 0; got {cpus_per_run:g}.")
    if per_gpu is not None:
        if per_gpu < 1:
            raise KcnnError(f"`--per-gpu` must be at least 1; got {per_gpu}.")
        gpus = int(resources.get("GPU", 0))
        if gpus < 1:
            raise KcnnError(
                "`--per-gpu` asks for GPU slots, but the Ray cluster has no GPU; "
                "leave it out to train on CPUs (`--cpus-per-run N`)."
            )
        cpus = cpus_per_run or 0.0
        fits = gpus * per_gpu if not cpus else min(gpus * per_gpu, int(resources.get("CPU", 0) // cpus))
        return RaySlotPlan(jobs or fits, cpus, 1 / per_gpu, max(1, int(cpus)), "auto", fits)
    cpus = cpus_per_run or 1.0
    fits = int(resources.get("CPU", 0) // cpus)
    if fits < 1 and jobs is None:
        raise KcnnError(
            f"The Ray cluster has {resources.get('CPU', 0):g} CPU(s), fewer than `--cpus-per-run` {cpus:g}; "
            "lower it or add nodes."
        )
    return RaySlotPlan(jobs or fits, cpus, 0.0, max(1, int(cpus)), "cpu", fits)


@dataclass
class RaySlot:
    """One slot of the head: its actor, where Ray placed it, and the run it holds."""

    index: int
    worker_id: str
    actor: Any
    where: dict[str, Any] | None = None
    pending: Any = None
    """The outstanding `where` call while the actor starts (or restarts after its node died)."""
    run_id: int | None = None
    problem: str | None = None
    """Why the actor last failed to start, as already logged."""

    @property
    def name(self) -> str:
        """E.g. ``Ray slot 2 on node 10.0.0.7``."""
        node = f" on node {self.where['node_ip']}" if self.where else ""
        return f"Ray slot {self.index}{node}"

    @property
    def label(self) -> str:
        """The registry's description: slot, node, device and current run."""
        if self.where is None:
            return f"ray {self.index}: starting"
        gpus = self.where.get("cuda_visible_devices")
        device = f"GPU {gpus}" if gpus else "CPU"
        run = f", run {self.run_id}" if self.run_id is not None else ""
        return f"ray {self.index}: node {self.where['node_ip']} {device}{run}"


class RayHead:
    """Claims runs from one store and trains them on Ray actors, writing everything to the store itself.

    Args:
        store_path: The store folder (on this machine).
        address: Ray cluster address (``auto``: the cluster this machine belongs to; ``local``: start one here).
        jobs: Number of slots (default: what the cluster's resources hold).
        per_gpu: Slots per GPU; `None` trains on CPUs.
        cpus_per_run: CPUs reserved per slot.
        once: Return when the queue is empty and no study is running.
        lease_seconds: Lease of each claim, renewed by heartbeats from here.
        poll_seconds: How often idle slots look for work.
        checkpoint_seconds: Seconds between checkpoints (0: every epoch).
        log: Where progress lines go.
    """

    def __init__(
        self,
        store_path: Path,
        address: str = "local",
        *,
        jobs: int | None = None,
        per_gpu: int | None = None,
        cpus_per_run: float | None = None,
        once: bool = False,
        lease_seconds: float = 60.0,
        poll_seconds: float = 1.0,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
        log: Callable[[str], None] = print,
    ) -> None:
        self.store_path = Path(store_path)
        self.address = address
        self.jobs = jobs
        self.per_gpu = per_gpu
        self.cpus_per_run = cpus_per_run
        self.once = once
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.checkpoint_seconds = checkpoint_seconds
        self.log = log
        self.stop = threading.Event()
        self.slots: list[RaySlot] = []
        self._labels: list[str] = []
        self._registered_at = 0.0

    # -- start-up ---------------------------------------------------------------

    def _connect(self) -> Any:
        ray = import_ray()
        if ray.is_initialized():
            return ray
        if self.address != "local":
            check_reachable(self.address)
        options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
        if self.address == "local":  # always a new instance (no address would join the last one started here)
            options["include_dashboard"] = False
        try:
            ray.init(address=self.address, **options)
        except ConnectionError as error:
            if self.address == "auto":
                raise KcnnError(
                    "`--ray auto` found no Ray cluster on this machine; start one with `ray start --head` (or pass "
                    "the cluster's address, e.g. `--ray 10.0.0.1:6379`; `--ray` alone starts Ray here)."
                ) from None
            raise KcnnError(
                f"Cannot reach the Ray cluster at {self.address!r} ({error}); start it with `ray start --head` "
                "or pass its address, e.g. `--ray 10.0.0.1:6379`."
            ) from None
        return ray

    def _start_actors(self, ray: Any) -> RaySlotPlan:
        plan = plan_ray_slots(
            ray.cluster_resources(), jobs=self.jobs, per_gpu=self.per_gpu, cpus_per_run=self.cpus_per_run
        )
        remote = ray.remote(SlotActor)
        base = f"{socket.gethostname()}:{os.getpid()}"
        for index in range(1, plan.count + 1):
            actor = remote.options(
                num_cpus=plan.num_cpus,
                num_gpus=plan.num_gpus,
                max_restarts=-1,
                max_task_retries=0,
                max_concurrency=4,
            ).remote(plan.threads)
            self.slots.append(RaySlot(index, f"{base}:ray{index}", actor))
        return plan

    # -- slots --------------------------------------------------------------------

    def _ready(self, ray: Any, slot: RaySlot) -> bool:
        """Whether the slot's actor answers (started, or restarted after its node died); waits up to a poll."""
        if slot.where is not None:
            return True
        if slot.pending is None:
            slot.pending = slot.actor.where.remote()
        done, _ = ray.wait([slot.pending], timeout=self.poll_seconds)
        if not done:
            return False
        try:
            slot.where = ray.get(slot.pending)
        except Exception as error:  # the actor could not start (or died again): Ray restarts it, ask again later
            problem = first_line(error)
            if problem != slot.problem:  # said once, not at every poll
                slot.problem = problem
                self.log(f"Ray slot {slot.index} could not start: {problem} (every node needs this kcnn installed)")
            return False
        finally:
            slot.pending = None
        slot.problem = None
        self.log(f"{slot.name} ready (CUDA_VISIBLE_DEVICES={slot.where.get('cuda_visible_devices') or '-'})")
        return True

    def _serve(self, ray: Any, slot: RaySlot, plan: RaySlotPlan, datasets: DatasetCache) -> None:
        def lost() -> None:
            slot.where = None  # its actor died: claim nothing until Ray has restarted it (`_ready`)

        trainer = RemoteTrainer(
            ray, slot.actor, datasets, lambda: slot.name, on_lost=lost, poll_seconds=min(0.5, self.poll_seconds)
        )
        settings = RunSettings(
            device=plan.device,
            lease_seconds=self.lease_seconds,
            stall_seconds=None,  # a stall ends the process: never the head's
            checkpoint_seconds=self.checkpoint_seconds,
        )

        def execute(claim: Claim) -> Execution:
            where = slot.where or {}
            try:
                store.note(
                    claim,
                    "ray_slot",
                    f"{slot.name} (node id {where.get('node_id', '?')}, host {where.get('host', '?')}, "
                    f"CUDA_VISIBLE_DEVICES={where.get('cuda_visible_devices') or ''})",
                )
            except LeaseLost as error:  # cancelled the moment it was claimed
                return Execution(Outcome.LOST, message=str(error))
            slot.run_id = claim.run_id
            try:
                return execute_claim(store, claim, settings, stop=self.stop, trainer=trainer)
            finally:
                slot.run_id = None

        def warm_up() -> None:
            try:
                seconds = trainer.call(slot.actor.warm_up.remote(plan.device))
            except SlotLost as error:
                self.log(f"[{slot.worker_id}] warm-up failed ({error}); runs will start cold")
                return
            except Exception as error:  # a broken device fails the first run, which records why
                self.log(f"[{slot.worker_id}] warm-up failed ({type(error).__name__}: {error}); runs will start cold")
                return
            self.log(f"[{slot.worker_id}] ready, waiting for runs (warmed up in {seconds:.1f} s on {slot.name})")

        while True:
            try:
                with Store(self.store_path) as store:
                    serve_claims(
                        store,
                        slot.worker_id,
                        execute,
                        stop=self.stop,
                        lease_seconds=self.lease_seconds,
                        poll_seconds=self.poll_seconds,
                        once=self.once,
                        ready=lambda: self._ready(ray, slot),
                        on_first_idle=warm_up,
                        log=self.log,
                    )
                return
            except Exception as error:  # as a local supervisor replaces a dead child: record, then serve again
                reason = f"the head's thread for {slot.name} failed: {type(error).__name__}: {error}"
                self.log(f"{reason}; it starts again")
                self._fail_held(slot, reason)
                if self.stop.wait(CRASH_BACKOFF_SECONDS):
                    return

    def _fail_held(self, slot: RaySlot, reason: str) -> None:
        """Record a crash on the run a slot held (requeued while attempts remain)."""
        try:
            with Store(self.store_path) as store:
                for claim in store.running_claims(slot.worker_id):
                    with contextlib.suppress(LeaseLost):
                        store.fail(claim, FailureKind.CRASHED, reason)
        except Exception as error:  # the store itself failed: its lease lapses and a reap requeues the run
            self.log(f"could not record it: {error}")

    # -- main loop ----------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.stop.is_set():
            self.stop.set()
            self.log("stopping: slots abandon their epoch and requeue their runs (again to force)")
            return
        self.log("forced stop: releasing runs")
        with Store(self.store_path) as store:
            for slot in self.slots:
                for claim in store.running_claims(slot.worker_id):
                    with contextlib.suppress(LeaseLost):
                        store.release(claim, "Ray head stopped by a second interrupt")
        raise SystemExit(130)

    def run(self) -> int:
        """Connect, start the actors and serve until stopped (or, with `once`, until the queue is drained).

        Returns:
            0 after a clean drain or stop.
        """
        started = time.monotonic()
        ray = self._connect()  # first: `ray.init` installs its own SIGTERM handler, which exits at once
        previous = {}
        if threading.current_thread() is threading.main_thread():
            previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            return self._run(ray, started)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run(self, ray: Any, started: float) -> int:
        plan = self._start_actors(ray)
        self.log(f"Ray: {plan.describe()} on {_describe_cluster(ray)}; store {self.store_path}")
        if plan.count > plan.fits:
            self.log(f"the cluster holds {plan.fits} of these slots now; the others start when it grows")
        self._registered_at = time.time()
        registry.register(self.store_path, self._slot_labels(), self.once, started=self._registered_at)
        try:
            deadline = time.monotonic() + STARTUP_WAIT_SECONDS
            for slot in self.slots[: plan.fits]:  # Ray's start-up, reported apart from training
                while not self.stop.is_set() and time.monotonic() < deadline and not self._ready(ray, slot):
                    pass
            self.log(f"Ray start-up: {time.monotonic() - started:.1f} s")  # reported apart from training
            if self.once and not self.stop.is_set() and not any(slot.where for slot in self.slots):
                problems = sorted({slot.problem for slot in self.slots if slot.problem})
                why = "; ".join(problems) or "the cluster has no room for them"
                raise KcnnError(
                    f"No Ray slot started within {STARTUP_WAIT_SECONDS:.0f} s ({why}); "
                    "check `ray status` and that every node has kcnn installed."
                )
            return self._supervise(ray, plan)
        finally:
            registry.unregister(self.store_path)
            for slot in self.slots:
                with contextlib.suppress(Exception):
                    ray.kill(slot.actor, no_restart=True)

    def _supervise(self, ray: Any, plan: RaySlotPlan) -> int:
        datasets = DatasetCache(ray)
        with Store(self.store_path) as store:
            reaper = LeaseReaper(store, self.lease_seconds, self.log)
            threads = [
                threading.Thread(
                    target=self._serve, args=(ray, slot, plan, datasets), daemon=True, name=f"ray{slot.index}"
                )
                for slot in self.slots
            ]
            for thread in threads:
                thread.start()
            while any(thread.is_alive() for thread in threads):
                for thread in threads:
                    thread.join(timeout=0.2 / len(threads))
                reaper.tick()
                self._update_registry()
        self.log(f"datasets read on the head: {datasets.loads}")
        return 0

    def _slot_labels(self) -> list[str]:
        return [slot.label for slot in self.slots]

    def _update_registry(self) -> None:
        labels = self._slot_labels()
        if labels != self._labels:
            self._labels = labels
            registry.register(self.store_path, labels, self.once, started=self._registered_at)


def _describe_cluster(ray: Any) -> str:
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    resources = ray.cluster_resources()
    return f"{len(nodes)} node(s), {resources.get('CPU', 0):g} CPU, {resources.get('GPU', 0):g} GPU"
