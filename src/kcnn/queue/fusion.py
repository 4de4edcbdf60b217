"""Fused execution: a worker slot claims up to K compatible runs and trains them as one program (issue 26).

Compatible runs compute the same shapes from the same data: their configs are equal but for the seed and the
learning rate (`fusion_key`), they train with Adam, and they resume from the same epoch. Each claimed run is
executed exactly as alone (`kcnn.queue.runner.execute_claim`: its heartbeat, fenced epoch writes,
checkpoints, best and final models, pruning, failure kinds), each in a thread of its own; only the training
call meets in a `GroupTrainer`, where the last member to arrive trains the whole group with
`kcnn.training.train.train_group` and hands each member its own result or its own exception. A member that
fails before it trains (a config that no longer matches its key, a store its heartbeat cannot open) withdraws,
and the others train without it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kcnn.errors import ConfigError
from kcnn.queue.memory import estimate_memory
from kcnn.store import Claim, Store

if TYPE_CHECKING:
    from kcnn.config import ExperimentConfig
    from kcnn.contract import RunResult
    from kcnn.data import ImageSet
    from kcnn.queue.runner import Execution, RunSettings
    from kcnn.training.train import Resume, TrainingHooks

#: Config fields that may differ within a fused group (they do not change the computation's shapes).
FREE_FIELDS = ("seed", "learning_rate")
#: How far down the queue a slot looks for runs to fuse with its first claim.
LOOKAHEAD = 1000
#: The group size kcnn chooses on a GPU when memory allows (`group_size`).
AUTO_GROUP = 16
#: The share of a GPU's free memory one fused group may take (by the shape plan's estimate).
GPU_SHARE = 0.5


def fusion_key(config_json: str) -> str | None:
    """What runs that may train together share (a config's JSON without `FREE_FIELDS`); `None` if it cannot."""
    try:
        data = json.loads(config_json)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("optimizer", "adam") != "adam":
        return None  # kcnn fuses Keras' Adam only (`kcnn.training.fused.StackedAdam`)
    shared = {name: value for name, value in data.items() if name not in FREE_FIELDS}
    return hashlib.sha256(json.dumps(shared, sort_keys=True).encode()).hexdigest()[:16]


def group_size(first: Claim, device: str, requested: int) -> int:
    """How many runs to train with `first` as one program on `device` (``kcnn worker --fuse``).

    Args:
        first: The run claimed first (its shape plan sizes each member).
        device: The slot's torch device.
        requested: ``--fuse K`` (at most K), or 0 for kcnn's choice: fused on a GPU, one at a time on a CPU
            (where fusing was measured slower). On a GPU a group never takes more than `GPU_SHARE` of the
            free memory, by the shape plan's estimate of one member (`kcnn.queue.memory`): a group that would
            not fit is made smaller.
    """
    if requested == 1 or fusion_key(first.config_json) is None:
        return 1
    if not device.startswith("cuda"):
        return max(requested, 1)
    try:
        config = first.config
        estimate = estimate_memory(config, 0)
    except ConfigError:
        return 1  # the execution fails it as invalid_config
    import torch

    free, _ = torch.cuda.mem_get_info(torch.device(device))
    member = estimate.activations + estimate.weights
    fits = max(1, int(GPU_SHARE * free // max(member, 1)))
    return min(fits, requested or AUTO_GROUP)


def claim_partners(store: Store, first: Claim, worker_id: str, lease_seconds: float, most: int) -> list[Claim]:
    """Claim up to `most` more queued runs that can train fused with `first`, in queue order."""
    key = fusion_key(first.config_json)
    if key is None or most <= 0:
        return []
    partners: list[Claim] = []
    for run_id, config_json, epoch in store.queued_in_order(LOOKAHEAD):
        if len(partners) >= most:
            break
        if epoch != first.checkpoint_epoch or fusion_key(config_json) != key:
            continue
        claim = store.claim(worker_id, lease_seconds, run_id=run_id)  # None when another worker took it first
        if claim is not None:
            partners.append(claim)
    return partners


class GroupTrainer:
    """Where the members of one fused group meet to train (each member's thread holds `member(position)`).

    Args:
        run_ids: The members' run ids, in position order (said in each member's ``train_loop`` event).
    """

    def __init__(self, run_ids: Sequence[int]) -> None:
        self.run_ids = list(run_ids)
        self._lock = threading.Lock()
        self._requests: dict[int, dict[str, Any]] = {}
        self._withdrawn: set[int] = set()
        self._outcomes: dict[int, RunResult | BaseException] = {}
        self._trained = threading.Event()

    def member(self, position: int) -> _MemberTrainer:
        """The `kcnn.queue.runner.Trainer` of the member at `position`."""
        return _MemberTrainer(self, position)

    def withdraw(self, position: int) -> None:
        """The member at `position` will not train (it failed before, or it has finished)."""
        with self._lock:
            if position in self._requests or position in self._withdrawn:
                return
            self._withdrawn.add(position)
            last = self._complete()
        if last:
            self._train()

    def arrive(self, position: int, request: dict[str, Any]) -> RunResult:
        """Wait until every member has arrived or withdrawn; the last one trains them all. This member's result.

        Raises:
            BaseException: This member's own failure (`StopRequested`, `Pruned`, `DivergedError`, …).
        """
        with self._lock:
            self._requests[position] = request
            last = self._complete()
        if last:
            self._train()
        self._trained.wait()
        outcome = self._outcomes[position]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _complete(self) -> bool:
        return len(self._requests) + len(self._withdrawn) == len(self.run_ids)

    def _train(self) -> None:
        """Train the members that arrived as one group (in this thread) and publish each outcome."""
        from kcnn.queue.faults import fault_callbacks
        from kcnn.training.train import train_group

        positions = sorted(self._requests)
        try:
            if positions:
                requests = [self._requests[position] for position in positions]
                hooks = [dataclasses.replace(request["hooks"], extra_callbacks=[*request["hooks"].extra_callbacks,
                         *fault_callbacks(request["config"].seed)]) for request in requests]  # fmt: skip
                outcomes = train_group(
                    [request["config"] for request in requests],
                    device=requests[0]["device"],
                    dataset=requests[0]["dataset"],
                    hooks=hooks,
                    resumes=[request["resume"] for request in requests],
                )
                together = [self.run_ids[position] for position in positions]
                for position, outcome in zip(positions, outcomes, strict=True):
                    self._outcomes[position] = self._named(outcome, position, together)
        except BaseException as error:  # the group's set-up failed (device, data): every member's failure
            for position in positions:
                self._outcomes.setdefault(position, error)
        finally:
            self._trained.set()

    def _named(self, outcome: RunResult | BaseException, position: int, together: list[int]) -> Any:
        """A fused member's result says which runs it was trained with."""
        if isinstance(outcome, BaseException) or outcome.loop != "fused":
            return outcome
        others = ", ".join(str(run_id) for run_id in together if run_id != self.run_ids[position])
        _, _, reason = outcome.loop_reason.partition("; ")
        return dataclasses.replace(outcome, loop_reason=f"trained as one program with runs {others}; {reason}")


class _MemberTrainer:
    """One member's `kcnn.queue.runner.Trainer`: hands its request to the group and waits for its outcome."""

    def __init__(self, group: GroupTrainer, position: int) -> None:
        self.group = group
        self.position = position

    def train(
        self,
        config: ExperimentConfig,
        *,
        device: str,
        dataset: ImageSet | None,
        hooks: TrainingHooks,
        resume: Resume | None,
    ) -> RunResult:
        """Train as a member of the group (`GroupTrainer.arrive`)."""
        request = {"config": config, "device": device, "dataset": dataset, "hooks": hooks, "resume": resume}
        return self.group.arrive(self.position, request)


def execute_group(
    store_path: Any, claims: Sequence[Claim], settings: RunSettings, stop: threading.Event
) -> list[Execution]:
    """Execute `claims` as one fused group: each as `execute_claim` would, in a thread with its own store.

    Returns:
        Each claim's `Execution`, in order.

    Raises:
        BaseException: What a member's execution raised for the whole worker (`StoreFull`, `LowDiskSpace`,
            `KeyboardInterrupt`), after every member has ended.
    """
    from kcnn.queue.runner import execute_claim

    group = GroupTrainer([claim.run_id for claim in claims])
    executions: list[Execution | None] = [None] * len(claims)
    raised: list[BaseException] = []

    def execute(position: int) -> None:
        try:
            with Store(store_path, create=False) as own:
                executions[position] = execute_claim(own, claims[position], settings, stop=stop,
                                                     trainer=group.member(position))  # fmt: skip
        except BaseException as error:  # for the worker: raised again once every member has ended
            raised.append(error)
        finally:
            group.withdraw(position)  # a member that never reached training must not keep the others waiting

    threads = [threading.Thread(target=execute, args=(position,), name=f"fused-{claim.run_id}")
               for position, claim in enumerate(claims)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if raised:
        raise raised[0]
    return [execution for execution in executions if execution is not None]
