"""The head's side of a Ray slot: a `Trainer` that trains on the slot's actor and reports back here.

`execute_claim` drives it like local training: each epoch's record reaches the head's hooks with a
`RemoteModel` standing in for the model, so the head's checkpointer writes the checkpoint, best and
final models into ``artifacts/<run>/`` (fetching the ``.keras`` bytes from the actor only when it
keeps a file), and the pruning check, stop and cancel are decided here between epochs.
Images reach the actors through Ray's object store, loaded once per dataset on the head
(`DatasetCache`); nodes never read the image folder.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kcnn.queue.ray_slot import DONE, EPOCH, ERROR

CALL_GRACE_SECONDS = 120.0
"""How long a call to an actor may take beyond its own wait before the slot counts as lost."""


class SlotLost(RuntimeError):
    """The slot's Ray actor, or its node, died (or stopped answering) while it held a run."""


class DatasetCache:
    """Each dataset loaded once on the head and put in Ray's object store; shared by the head's slots.

    Args:
        ray: The ray module.
        keep: How many datasets (folder × size × colour × resize) to keep in the object store.
    """

    def __init__(self, ray: Any, keep: int = 4) -> None:
        self._ray = ray
        self._keep = keep
        self._refs: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0
        """How many times a dataset was read here (once per dataset while it stays cached)."""

    def ref(self, config: Any) -> Any:
        """The object reference of `config`'s images, loading and putting them the first time.

        Raises:
            DataError: If the dataset cannot be loaded (the run fails with ``data_error``, as locally).
        """
        key = (config.dataset, config.input_size, config.color_mode, config.resize, config.skip_bad)
        with self._lock:  # one load per dataset, even when several slots ask at once
            if key in self._refs:
                self._refs.move_to_end(key)
                return self._refs[key]
            from kcnn.data import load_dataset

            data = load_dataset(*key)
            self.loads += 1
            self._refs[key] = self._ray.put(data)
            while len(self._refs) > self._keep:
                self._refs.popitem(last=False)
            return self._refs[key]


class RemoteModel:
    """Stands in for the actor's model on the head: `save` writes the actor's current ``.keras`` bytes."""

    def __init__(self, trainer: RemoteTrainer) -> None:
        self._trainer = trainer

    def save(self, path: str | Path) -> None:
        """Write the model (as the actor holds it now) to `path`, with its optimizer state (a checkpoint)."""
        Path(path).write_bytes(self._trainer.call(self._trainer.actor.model_bytes.remote()))

    def save_for_inference(self, path: str | Path) -> None:
        """Write the model's architecture and weights only (what a done run keeps) to `path`."""
        Path(path).write_bytes(self._trainer.call(self._trainer.actor.model_bytes.remote(True)))


class RemoteTrainer:
    """Trains on one Ray actor (a `kcnn.queue.ray_slot.SlotActor`), one run at a time.

    Args:
        ray: The ray module.
        actor: The slot's actor handle.
        datasets: The head's dataset cache.
        slot_name: How errors name the slot, e.g. ``Ray slot 2 on node 10.0.0.7``.
        on_lost: Called when the actor is found dead (before `SlotLost` is raised).
        poll_seconds: How long each wait for the actor's next event lasts (stops are noticed between waits).
    """

    def __init__(
        self,
        ray: Any,
        actor: Any,
        datasets: DatasetCache,
        slot_name: Callable[[], str],
        *,
        on_lost: Callable[[], None] = lambda: None,
        poll_seconds: float = 0.5,
    ) -> None:
        self.ray = ray
        self.actor = actor
        self.datasets = datasets
        self.slot_name = slot_name
        self.on_lost = on_lost
        self.poll_seconds = poll_seconds

    def call(self, ref: Any, wait: float = 0.0) -> Any:
        """The result of an actor call; `SlotLost` when the actor or its node died or stopped answering."""
        from ray.exceptions import GetTimeoutError, RayActorError

        name = self.slot_name()  # where it was, before `on_lost` forgets it
        try:
            return self.ray.get(ref, timeout=wait + CALL_GRACE_SECONDS)
        except RayActorError as error:
            self.on_lost()
            raise SlotLost(f"{name} was lost: {first_line(error)}") from error
        except GetTimeoutError as error:
            self.on_lost()
            raise SlotLost(f"{name} did not answer in {wait + CALL_GRACE_SECONDS:g} s") from error

    def train(self, config: Any, *, device: str, dataset: Any, hooks: Any, resume: Any) -> Any:
        """Train `config` on the actor; the hooks run here, on the head, after each of its epochs.

        Raises:
            SlotLost: If the actor or its node died.
            Exception: What training raised on the actor (`DataError`, `DivergedError`, …), with its
                remote traceback as a note.
        """
        data = dataset if dataset is not None else self.datasets.ref(config)
        payload = None
        if resume is not None:
            best = Path(resume.best_model).read_bytes() if resume.best_model is not None else None
            payload = (Path(resume.checkpoint).read_bytes(), resume.epoch, best, resume.best_val_accuracy)
        self.call(self.actor.start.remote(config, data, device, payload))
        stopping = False
        while True:
            if not stopping and hooks.should_stop is not None and hooks.should_stop():
                stopping = True
                self.call(self.actor.stop.remote())
            event = self.call(self.actor.next_event.remote(self.poll_seconds), wait=self.poll_seconds)
            if event is None:
                continue
            kind, payload = event
            if kind == DONE:
                return payload
            if kind == ERROR:
                error, remote_traceback = payload
                tail = "".join(remote_traceback.strip().splitlines(keepends=True)[-4:])
                error.add_note(f"raised on {self.slot_name()}:\n{tail}")
                raise error
            if kind == EPOCH and not stopping:
                self._after_epoch(payload, hooks)

    def _after_epoch(self, record: Any, hooks: Any) -> None:
        """Record the epoch here (checkpoint included), then let the actor go on — or stop it."""
        try:
            if hooks.on_epoch is not None:
                hooks.on_epoch(record)
            if hooks.after_epoch is not None:
                hooks.after_epoch(record, RemoteModel(self))
        except BaseException:
            self.actor.stop.remote()  # pruned, lease lost, store error: the actor abandons the run
            raise
        self.actor.proceed.remote()  # not awaited: a dead actor shows at the next `next_event`


def first_line(error: BaseException) -> str:
    """What an error says, in one line: Ray's errors carry whole tracebacks, so their cause's line if they have one."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # Ray colours its messages
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    causes = [line for line in lines if re.match(r"[\w.]*(Error|Exception)\b", line)]
    if causes:
        return causes[-1]
    return lines[0] if lines else type(error).__name__


#: Where a Ray node writes its logs (the raylet's, the agents'), on that node.
RAY_LOGS = "/tmp/ray/session_latest/logs"
_MISSING_CODE = re.compile(r"\b(ModuleNotFoundError|ImportError)\b")
_NODE_DIED = re.compile(r"node (has )?died|raylet|NodeDiedError|local Ray instance is not running|GCS", re.IGNORECASE)
_ACTOR_DIED = re.compile(r"died unexpectedly|ActorUnavailableError|actor is unavailable", re.IGNORECASE)


def slot_problem(error: BaseException) -> str:
    """Why a Ray slot's actor could not start or answer, told apart by its cause, in one line.

    An import error is this kcnn missing (or broken) on the node; a node Ray reports dead (its raylet exits
    when one of its agents dies), or an actor process that died without an error of its own, is the machine:
    the line says where Ray's logs are. Anything else is the error's own line (`first_line`).
    """
    line = first_line(error)
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    if _MISSING_CODE.search(text):
        return f"{line} (every node needs this kcnn and its dependencies installed: pip install kcnn there)"
    logs = f"Ray's logs on that node are in {RAY_LOGS} (raylet.out, raylet.err)"
    if _NODE_DIED.search(text) or type(error).__name__ == "NodeDiedError":
        return f"its Ray node died ({line}); {logs}"
    if _ACTOR_DIED.search(text) or type(error).__name__ == "ActorUnavailableError":
        return f"its actor's process died ({line}): killed, out of memory, or its node died; {logs}"
    return line
