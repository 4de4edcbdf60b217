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
the next head (or `kcnn queue reap`) requeues those runs. `RayPool` is an `Executor`: the supervisor
around it (`kcnn.queue.supervisor`) handles signals, the registry and the lease reaper as for local
children.

Why one module of ~430 lines: the slot plan, the slots' start-up and their serving threads share the
actors' lifecycle (placement, restart after a node dies, kill at the end); apart, each would need the others.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kcnn.errors import KcnnError, LeaseLost
from kcnn.queue.disk_space import LowDiskSpace
from kcnn.queue.ray_slot import SlotActor
from kcnn.queue.ray_trainer import DatasetCache, RemoteTrainer, SlotLost, slot_problem
from kcnn.queue.runner import Execution, Outcome, RunSettings, execute_claim
from kcnn.queue.serve import serve_claims
from kcnn.queue.settings import WorkerSettings
from kcnn.queue.supervisor import fail_held
from kcnn.store import Claim, Store

INSTALL_HINT = "pip install 'kcnn[ray]'"
CRASH_BACKOFF_SECONDS = 2.0
STARTUP_WAIT_SECONDS = 300.0
"""How long the head waits for every actor before it starts serving with those that answer."""
#: While slots do not answer at start-up, how often to ask whether the instance this head started has a live node.
NODE_CHECK_SECONDS = 5.0


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
    if not 1 <= int(port) <= 65535:
        raise KcnnError(f"`--ray {address}`: a port is a number from 1 to 65535; got {port} (Ray's default is 6379).")
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


class RayPool:
    """The `Executor` of Ray slots: runs claimed here, trained on Ray actors, written to the store from here.

    The supervisor around it (`kcnn.queue.supervisor`) handles signals, the registry and the lease reaper.

    Args:
        settings: The worker's settings (store, lease, poll, checkpoints, once).
        address: Ray cluster address (``auto``: the cluster this machine belongs to; ``local``: start one here).
        jobs: Number of slots (default: what the cluster's resources hold).
        per_gpu: Slots per GPU; `None` trains on CPUs.
        cpus_per_run: CPUs reserved per slot.
        log: Where progress lines go.
    """

    def __init__(
        self,
        settings: WorkerSettings,
        address: str = "local",
        *,
        jobs: int | None = None,
        per_gpu: int | None = None,
        cpus_per_run: float | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.settings = settings
        self.address = address
        self.jobs = jobs
        self.per_gpu = per_gpu
        self.cpus_per_run = cpus_per_run
        self.log = log
        self.stop = threading.Event()
        self.slots: list[RaySlot] = []
        self.ray: Any = None
        self.plan: RaySlotPlan | None = None
        self.datasets: DatasetCache | None = None
        self.threads: list[threading.Thread] = []
        self.started = time.monotonic()
        self.restarted = False
        """Whether the Ray instance this head started was replaced once already (`_restart_local_instance`)."""

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
        done, _ = ray.wait([slot.pending], timeout=self.settings.poll_seconds)
        if not done:
            return False
        try:
            slot.where = ray.get(slot.pending)
        except Exception as error:  # the actor could not start (or died again): Ray restarts it, ask again later
            problem = slot_problem(error)
            if problem != slot.problem:  # said once, not at every poll
                slot.problem = problem
                self.log(f"Ray slot {slot.index} could not start: {problem}")
            return False
        finally:
            slot.pending = None
        slot.problem = None
        self.log(f"{slot.name} ready (CUDA_VISIBLE_DEVICES={slot.where.get('cuda_visible_devices') or '-'})")
        return True

    def _serve(self, ray: Any, slot: RaySlot, plan: RaySlotPlan, datasets: DatasetCache) -> None:
        def lost() -> None:
            slot.where = None  # its actor died: claim nothing until Ray has restarted it (`_ready`)

        poll = min(0.5, self.settings.poll_seconds)
        trainer = RemoteTrainer(ray, slot.actor, datasets, lambda: slot.name, on_lost=lost, poll_seconds=poll)
        worker = self.settings
        settings = RunSettings(
            device=plan.device,
            lease_seconds=worker.lease_seconds,
            stall_seconds=None,  # a stall ends the process: never the head's
            checkpoint_seconds=worker.checkpoint_seconds,
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
                with Store(worker.store_path) as store:
                    serve_claims(
                        store,
                        slot.worker_id,
                        execute,
                        stop=self.stop,
                        lease_seconds=worker.lease_seconds,
                        poll_seconds=worker.poll_seconds,
                        once=worker.once,
                        ready=lambda: self._ready(ray, slot),
                        on_first_idle=warm_up,
                        log=self.log,
                    )
                return
            except LowDiskSpace:  # said by the claim loop: this slot claims no more (the others find the same)
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
            with Store(self.settings.store_path) as store:
                fail_held(store, slot.worker_id, reason)
        except Exception as error:  # the store itself failed: its lease lapses and a reap requeues the run
            self.log(f"could not record it: {error}")

    # -- the executor -------------------------------------------------------------

    def open(self) -> None:
        """Connect to Ray and start the slots' actors (before the supervisor installs its signal handlers)."""
        self.started = time.monotonic()
        self.ray = self._connect()  # `ray.init` installs its own SIGTERM handler, which the supervisor's replaces
        self.plan = self._start_actors(self.ray)
        self.log(f"Ray: {self.plan.describe()} on {_describe_cluster(self.ray)}; store {self.settings.store_path}")
        if self.plan.count > self.plan.fits:
            self.log(f"the cluster holds {self.plan.fits} of these slots now; the others start when it grows")

    def start(self) -> None:
        """Wait for the slots the cluster holds (Ray's start-up, reported apart from training), then serve.

        Raises:
            KcnnError: With ``once``, when no slot started at all (its cause, e.g. kcnn missing on a node).
        """
        assert self.plan is not None
        self._wait_for_slots()
        if not any(slot.where for slot in self.slots) and self._restart_local_instance():
            self._wait_for_slots()
        self.log(f"Ray start-up: {time.monotonic() - self.started:.1f} s")
        if self.settings.once and not self.stop.is_set() and not any(slot.where for slot in self.slots):
            problems = sorted({slot.problem for slot in self.slots if slot.problem})
            why = "; ".join(problems) or "the cluster has no room for them"
            raise KcnnError(
                f"No Ray slot started within {STARTUP_WAIT_SECONDS:.0f} s ({why}); "
                "check `ray status` and that every node has kcnn installed."
            )
        self.datasets = DatasetCache(self.ray)
        arguments = [(self.ray, slot, self.plan, self.datasets) for slot in self.slots]
        self.threads = [threading.Thread(target=self._serve, args=args, daemon=True) for args in arguments]
        for thread in self.threads:
            thread.start()

    def _wait_for_slots(self) -> None:
        """Wait (up to `STARTUP_WAIT_SECONDS`) for the slots the cluster holds to answer."""
        assert self.plan is not None
        deadline = time.monotonic() + STARTUP_WAIT_SECONDS
        checked = time.monotonic()
        for slot in self.slots[: self.plan.fits]:
            while not self.stop.is_set() and time.monotonic() < deadline and not self._ready(self.ray, slot):
                if self.address == "local" and time.monotonic() - checked > NODE_CHECK_SECONDS:
                    checked = time.monotonic()
                    if not self._live_nodes():
                        return  # the instance this head started is gone: waiting longer cannot help

    def _live_nodes(self) -> int:
        """Nodes Ray reports alive (0 when it cannot even say: its control store is gone)."""
        try:
            return sum(bool(node.get("Alive")) for node in self.ray.nodes())
        except Exception:  # the GCS itself died with the node
            return 0

    def _restart_local_instance(self) -> bool:
        """Once, for a Ray instance this head started itself whose node died: start a fresh one and its slots.

        Returns:
            Whether a fresh instance was started (never for a cluster given by address, or a second time).
        """
        if self.address != "local" or self.restarted or self.stop.is_set() or self._live_nodes():
            return False
        self.restarted = True
        self.log("the Ray instance this worker started has no live node; starting a fresh one (once)")
        with contextlib.suppress(Exception):
            self.ray.shutdown()
        self.slots = []
        self.ray = self._connect()
        self.plan = self._start_actors(self.ray)
        return True

    def labels(self) -> list[str]:
        """Each slot's node, device and run."""
        return [slot.label for slot in self.slots]

    def worker_ids(self) -> list[str]:
        """Every slot's worker id."""
        return [slot.worker_id for slot in self.slots]

    def step(self, store: Store) -> bool:
        """Wait a moment on the slots' threads; False once every one has returned."""
        for thread in self.threads:
            thread.join(timeout=0.2 / len(self.threads))
        if any(thread.is_alive() for thread in self.threads):
            return True
        if self.datasets is not None:
            self.log(f"datasets read on the head: {self.datasets.loads}")
        return False

    def request_stop(self) -> None:
        """Slots abandon their epoch and requeue their runs."""
        self.stop.set()

    def force_stop(self) -> None:
        """The slots' threads are daemons and their actors are killed in `close`: nothing more to end."""
        self.stop.set()

    def close(self) -> None:
        """Kill the actors (Ray would restart them otherwise)."""
        self.stop.set()
        if self.ray is None:
            return
        for slot in self.slots:
            with contextlib.suppress(Exception):
                self.ray.kill(slot.actor, no_restart=True)


def _describe_cluster(ray: Any) -> str:
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    resources = ray.cluster_resources()
    return f"{len(nodes)} node(s), {resources.get('CPU', 0):g} CPU, {resources.get('GPU', 0):g} GPU"
