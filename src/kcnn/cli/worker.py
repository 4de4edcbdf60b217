"""`kcnn worker`: train queued runs in long-lived child processes (one per CPU share or GPU slot), or on Ray."""

from __future__ import annotations

import argparse
import os
from typing import Any

from rich.console import Console

from kcnn.api import MAX_FUSE, default_store_path
from kcnn.api.arguments import positive_number, seconds, whole
from kcnn.api.views import safe
from kcnn.cli.common import add_checkpoint_option, add_store_option, checkpoint_seconds
from kcnn.cli.workers import register_stop
from kcnn.errors import KcnnError

#: Sets `--fuse`'s default (for a GPU box, or to run a test suite with fusion on).
FUSE_VARIABLE = "KCNN_FUSE"


def register(commands: Any) -> None:
    """Add the `worker` sub-command."""
    worker = commands.add_parser(
        "worker",
        help="train queued runs (CPU jobs or GPU slots) until stopped",
        description="Claim queued runs and train them in child processes (with --ray: on Ray actors anywhere on a "
        "cluster, this process writing the store). Ctrl-C requeues running runs at their last checkpoint; a second "
        "Ctrl-C exits at once.",
        epilog="Examples: kcnn worker --once --jobs 2 · kcnn worker --gpus 0,1 --per-gpu 2 · "
        "kcnn worker --gpus 0 --fuse 8 · "
        "kcnn worker --ray auto --per-gpu 4 · kcnn worker stop 4242",
    )
    actions = worker.add_subparsers(dest="action", metavar="ACTION", parser_class=type(worker))
    register_stop(actions)
    where = worker.add_mutually_exclusive_group()
    where.add_argument(
        "--jobs",
        type=whole("--jobs", 1, 1024, 2),
        default=None,
        help="CPU children; cores are split among them (default: 1); with --ray, the number of slots",
    )
    where.add_argument("--gpus", default=None, help="comma-separated GPU indices, e.g. 0,1")
    worker.add_argument(
        "--per-gpu",
        type=whole("--per-gpu", 1, 1024),
        default=None,
        help="children per GPU (default: 1); with --ray, GPU slots per GPU",
    )
    worker.add_argument(
        "--fuse",
        type=whole("--fuse", 1, MAX_FUSE, 8),
        default=None,
        metavar="K",
        help="claim up to K runs that differ only in seed and learning rate and train them as one program "
        "(default: kcnn chooses: on a GPU up to 16 as its memory allows, on a CPU one at a time, where fusing "
        "was measured slower; $KCNN_FUSE sets another default; 1: one at a time)",
    )
    worker.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="train on a Ray cluster from this machine, the store's only writer: `auto` (the cluster this machine "
        "joined), an address such as 10.0.0.1:6379, or nothing to start Ray here (needs kcnn[ray])",
    )
    worker.add_argument(
        "--cpus-per-run",
        type=positive_number("--cpus-per-run", example="2"),
        default=None,
        metavar="N",
        help="with --ray: CPUs each slot reserves (CPU slots: default 1; GPU slots: default 0)",
    )
    worker.add_argument(
        "--once", action="store_true", help="exit when the queue is empty and no study (race, Optuna) is running"
    )
    worker.add_argument(
        "--lease", type=seconds("--lease"), default=60.0, help="lease in seconds, renewed by heartbeats (default: 60)"
    )
    worker.add_argument(
        "--poll",
        type=seconds("--poll", example="1"),
        default=1.0,
        help="seconds between looks for new work (default: 1)",
    )
    worker.add_argument(
        "--stall",
        type=seconds("--stall", positive=False, example="600"),
        default=0.0,
        metavar="SECONDS",
        help="end a child whose run makes no training step for this long (default: never)",
    )
    add_checkpoint_option(worker)
    add_store_option(worker)
    worker.set_defaults(handler=run_worker)


def _gpu_list(text: str) -> list[int]:
    try:
        gpus = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise KcnnError(f"`--gpus` takes comma-separated GPU indices such as `--gpus 0,1`; got {text!r}.") from None
    if not gpus or min(gpus) < 0:
        raise KcnnError(f"`--gpus` takes comma-separated GPU indices such as `--gpus 0,1`; got {text!r}.")
    return gpus


def run_worker(args: argparse.Namespace) -> int:
    """Run the worker supervisor."""
    from kcnn.api import run_workers

    console = Console(stderr=True, highlight=False)
    return run_workers(
        args.store or default_store_path(),
        jobs=args.jobs,
        gpus=_gpu_list(args.gpus) if args.gpus else None,
        per_gpu=args.per_gpu,
        once=args.once,
        lease_seconds=args.lease,
        poll_seconds=args.poll,
        stall_seconds=args.stall,
        checkpoint_seconds=checkpoint_seconds(args),
        log=lambda line: console.print(f"worker: {safe(line)}"),
        ray=args.ray,
        cpus_per_run=args.cpus_per_run,
        fuse=args.fuse if args.fuse is not None else _fuse_default(),
    )


def _fuse_default() -> int:
    """``$KCNN_FUSE``, else 0 (kcnn chooses)."""
    text = os.environ.get(FUSE_VARIABLE, "").strip()
    if not text:
        return 0
    if not text.isdigit() or int(text) > MAX_FUSE:
        raise KcnnError(f"${FUSE_VARIABLE} must be a whole number from 0 (kcnn chooses) to {MAX_FUSE}; got {text!r}.")
    return int(text)
