"""The Ray actor of one slot: imports keras once, then trains the runs its head hands it, one at a time.

It runs on any node of the cluster and never touches the store or the image folder: the head
sends the run's config, the images (through Ray's object store) and the checkpoint to resume
from; the actor answers with events. After each epoch it sends the epoch's record and waits for
the head's answer — go on, or stop — so the head writes every epoch, checkpoint and model itself
(`kcnn.queue.ray_trainer`) and decides stops, cancels and pruning between epochs exactly as a
local worker does. The head asks for the model's ``.keras`` bytes only when it keeps a file.

This module imports neither ray nor keras at import time: the head only needs the class, which it
wraps with ``ray.remote`` (`kcnn.queue.ray_head`).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import socket
import threading
import traceback
from pathlib import Path
from typing import Any

from kcnn.errors import StopRequested
from kcnn.files import remove_stale_scratch, scratch_folder

EPOCH = "epoch"
"""Event: an epoch finished; the actor waits for `SlotActor.proceed`. Payload: its `EpochRecord`."""
DONE = "done"
"""Event: training finished. Payload: the `RunResult` (without its test images)."""
ERROR = "error"
"""Event: training raised. Payload: ``(exception, formatted traceback)``."""

ANSWER_SECONDS = 3600.0
"""How long the actor waits for its head's answer after an epoch before abandoning the run."""

#: A resumed run as it crosses to the actor: the checkpoint's bytes, the epochs it holds, the earlier
#: attempts' best model (bytes, or `None`) and that model's validation accuracy.
ResumePayload = tuple[bytes, int, bytes | None, float]


def portable_error(error: BaseException) -> tuple[BaseException, str]:
    """The exception as it can cross to the head (itself when it pickles), and its traceback as text."""
    text = "".join(traceback.format_exception(error))
    try:
        copy = pickle.loads(pickle.dumps(error))
    except Exception:
        copy = RuntimeError(f"{type(error).__name__}: {error}")
    return copy, text


class SlotActor:
    """One slot's long-lived training process (wrapped with ``ray.remote`` by the head).

    Args:
        threads: Torch CPU threads for this slot (0: leave Ray's setting).
    """

    def __init__(self, threads: int = 0) -> None:
        if threads:
            for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
                os.environ[name] = str(threads)
        from kcnn.training.backend import import_keras

        import_keras()
        import torch

        if threads:
            torch.set_num_threads(threads)
        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._answers: queue.Queue[bool] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._model: Any = None
        remove_stale_scratch()  # the folders of this node's slots that Ray killed mid-resume or mid-save

    # -- where this slot is ---------------------------------------------------

    def where(self) -> dict[str, Any]:
        """The node, process and devices of this actor (the head shows them and records them with each run)."""
        import ray

        context = ray.get_runtime_context()
        return {
            "node_id": context.get_node_id(),
            "node_ip": ray.util.get_node_ip_address(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "gpu_ids": [str(gpu) for gpu in ray.get_gpu_ids()],
        }

    def warm_up(self, device: str) -> float:
        """Pay the first run's one-off costs now (see `kcnn.queue.warmup`); the seconds it took."""
        from kcnn.queue.warmup import warm_up

        return warm_up(device)

    # -- one run ----------------------------------------------------------------

    def start(self, config: Any, dataset: Any, device: str, resume: ResumePayload | None) -> None:
        """Start training `config` on `dataset` in a thread; progress comes through `next_event`.

        Args:
            config: The run's `ExperimentConfig`.
            dataset: The `ImageSet` (Ray resolves the head's object reference to it, without copying arrays).
            device: Torch device spec.
            resume: The checkpoint's ``.keras`` bytes, the epochs it holds, the earlier attempts' best model
                (bytes, or `None`) and its validation accuracy; `None` for a fresh model.
        """
        self._finish_previous()
        self._events = queue.Queue()
        self._answers = queue.Queue()
        self._stop = threading.Event()
        self._model = None
        self._thread = threading.Thread(
            target=self._train, args=(config, dataset, device, resume), name="kcnn-slot-train", daemon=True
        )
        self._thread.start()

    def next_event(self, timeout: float) -> tuple[str, Any] | None:
        """The next event of the current run, or `None` if there was none within `timeout` seconds."""
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def proceed(self) -> None:
        """The head's answer to the last epoch event: go on training (`stop` abandons the run instead)."""
        self._answers.put(True)

    def stop(self) -> None:
        """Abandon the current run at its next step (it ends with an error event holding `StopRequested`)."""
        self._stop.set()
        self._answers.put(False)

    def model_bytes(self, weights_only: bool = False) -> bytes:
        """The current model as a ``.keras`` file (asked while training waits after an epoch, or once done).

        Args:
            weights_only: Architecture and weights only (`kcnn.training.model.save_for_inference`), as a done
                run keeps them; else the whole model with its optimizer state, as a checkpoint needs.
        """
        if self._model is None:
            raise RuntimeError("no model yet: the run has not finished an epoch on this slot")
        with scratch_folder("kcnn-slot-") as folder:
            path = Path(folder) / "model.keras"
            if weights_only:
                from kcnn.training.model import save_for_inference

                save_for_inference(self._model, path)
            else:
                self._model.save(path)
            return path.read_bytes()

    def close(self) -> None:
        """Stop any run.

        The actor keeps no files: each lives only as long as the call that wrote it, so an actor that Ray kills
        without this call leaves nothing behind, unless it is killed inside such a call; the next slot started on
        the node removes that folder (`kcnn.files.remove_stale_scratch`).
        """
        self._finish_previous()

    # -- the training thread ----------------------------------------------------

    def _finish_previous(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self.stop()
            self._thread.join()
        self._thread = None

    def _train(self, config: Any, dataset: Any, device: str, resume: ResumePayload | None) -> None:
        from kcnn.queue.faults import fault_callbacks
        from kcnn.training.train import TrainingHooks, train

        try:
            with contextlib.ExitStack() as cleanup:  # a resumed run's checkpoint copy lives as long as the run
                start_from = None
                if resume is not None:
                    folder = Path(cleanup.enter_context(scratch_folder("kcnn-slot-")))
                    start_from = _resume_from(resume, folder)
                hooks = TrainingHooks(
                    after_epoch=self._after_epoch,
                    should_stop=self._stop.is_set,
                    extra_callbacks=fault_callbacks(config.seed),
                )
                result = train(config, device=device, dataset=dataset, hooks=hooks, resume=start_from)
            self._events.put((DONE, result))
        except BaseException as error:  # every outcome, failures included, is the head's to record
            self._events.put((ERROR, portable_error(error)))

    def _after_epoch(self, record: Any, model: Any) -> None:
        self._model = model
        self._events.put((EPOCH, record))
        try:
            go_on = self._answers.get(timeout=ANSWER_SECONDS)
        except queue.Empty:
            go_on = False
        if not go_on or self._stop.is_set():
            raise StopRequested("the head stopped this run")


def _resume_from(resume: ResumePayload, folder: Path) -> Any:
    """The payload's checkpoint (and best model, if any) written into `folder`, as the `Resume` training takes."""
    from kcnn.training.train import Resume

    checkpoint, epoch, best, best_val_accuracy = resume
    path = folder / "resume.keras"
    path.write_bytes(checkpoint)
    best_path = None
    if best is not None:
        best_path = folder / "resume-best.keras"
        best_path.write_bytes(best)
    return Resume(path, epoch, best_path, best_val_accuracy)
