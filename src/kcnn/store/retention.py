"""Removing model files the user no longer needs, while every number stays in SQLite.

A run's folder holds its resume checkpoint (while it can resume), its final model and its best epoch's
model. `Retention.remove_model_files` deletes them for the runs it is given and leaves a marker,
``removed.json``, so that every later reader can say the files were removed on purpose (and how to get a
model again) instead of calling the store damaged. Runs that can still resume (queued, running) are never
touched; a failed or cancelled run loses its checkpoint, so a retry starts from its first epoch.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kcnn.store.connection import StoreConnection
from kcnn.store.states import RunState

#: What a done run keeps (`--keep`): its final and best models (the default), one of them, everything
#: (its last resume checkpoint too), or none (its numbers only).
KEEP_POLICIES = ("final+best", "final", "best", "all", "none")
DEFAULT_KEEP = "final+best"
#: The marker a removal leaves in a run's folder.
REMOVED_MARKER = "removed.json"
#: The files of a run that hold a model (its checkpoints, final and best models).
MODEL_FILE_PATTERNS = ("model-a*.keras", "best-a*.keras", "checkpoint-*.keras")
#: States whose runs may resume from their files: never pruned.
RESUMABLE = (RunState.QUEUED, RunState.RUNNING)


@dataclass
class Removal:
    """What removing (or, in a dry run, what would remove) the model files of some runs frees."""

    runs: list[int] = field(default_factory=list)
    """Runs that had model files (in id order)."""
    files: int = 0
    bytes: int = 0
    """Bytes freed: a file under two names (the final model linked to the best) is counted once."""


#: How `kcnn store info` names the files of a run's folder, by name pattern (the first that matches).
KINDS = (("checkpoint-*.keras", "resume checkpoints"), ("model-a*.keras", "final models"),
         ("best-a*.keras", "best-epoch models"))  # fmt: skip


@dataclass
class ArtifactUsage:
    """The bytes of a store's artifacts by kind, and its largest runs; a file under two names counts once."""

    by_kind: dict[str, int] = field(default_factory=dict)
    largest_runs: list[tuple[int, int]] = field(default_factory=list)
    """``(run id, bytes)``, largest first (five at most)."""


def artifact_usage(artifacts: Path, most: int = 5) -> ArtifactUsage:
    """Walk the artifacts folder once: bytes by kind (`KINDS`, else ``other``) and the largest run folders."""
    usage = ArtifactUsage(by_kind={name: 0 for _, name in KINDS} | {"other": 0})
    seen: set[tuple[int, int]] = set()
    per_run: dict[int, int] = {}
    if not artifacts.is_dir():
        return usage
    for folder in artifacts.iterdir():
        if not folder.is_dir() or not folder.name.isdigit():
            continue
        # A final model linked to its best (the last epoch was the best) counts once, as the final model.
        for path in sorted(folder.iterdir(), key=lambda path: (not path.name.startswith("model-"), path.name)):
            try:
                info = path.stat()
            except OSError:
                continue
            if not path.is_file() or (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            kind = next((name for pattern, name in KINDS if path.match(pattern)), "other")
            usage.by_kind[kind] += info.st_size
            per_run[int(folder.name)] = per_run.get(int(folder.name), 0) + info.st_size
    usage.largest_runs = sorted(per_run.items(), key=lambda item: (-item[1], item[0]))[:most]
    return usage


def model_files(folder: Path) -> list[Path]:
    """The model files in a run's folder (empty when it has none, or no folder)."""
    if not folder.is_dir():
        return []
    return sorted({path for pattern in MODEL_FILE_PATTERNS for path in folder.glob(pattern)})


def remove_files(folder: Path, files: Sequence[Path], reason: str) -> None:
    """Delete `files` of a run's folder, first noting them (and why) in its ``removed.json`` marker."""
    names = [*removed_names(removal_note(folder)), *(path.name for path in files)]
    marker = {"reason": reason, "when": time.time(), "files": sorted(set(names))}
    (folder / REMOVED_MARKER).write_text(json.dumps(marker))
    for path in files:
        path.unlink(missing_ok=True)


def removal_note(folder: Path | None) -> dict[str, object] | None:
    """What the removal marker of a run's folder says (when and why which files went), or `None`."""
    if folder is None:
        return None
    try:
        note = json.loads((folder / REMOVED_MARKER).read_text())
    except (OSError, ValueError):
        return None
    return note if isinstance(note, dict) else None


def removed_names(note: dict[str, object] | None) -> list[str]:
    """The file names a removal marker lists."""
    files = note.get("files") if note is not None else None
    return [str(name) for name in files] if isinstance(files, list) else []


def removed_text(folder: Path | None, train_command: str | None, pattern: str = "*.keras") -> str | None:
    """One line saying a run's model files (those matching `pattern`) were removed on purpose; `None` if not.

    The line says why, that the run's numbers are kept, and the command that trains it again.
    """
    note = removal_note(folder)
    if note is None or not any(Path(name).match(pattern) for name in removed_names(note)):
        return None
    again = f"; to use a model of it, train it again: {train_command}" if train_command else ""
    return f"its model files were removed ({note.get('reason', 'on purpose')}); its numbers are kept{again}"


class Retention(StoreConnection):
    """The store's removal of model files."""

    def remove_model_files(
        self, run_ids: Sequence[int], reason: str, *, dry_run: bool = False, spare: tuple[str, ...] = ()
    ) -> Removal:
        """Delete the model files of `run_ids` (never of a queued or running run), or count them (`dry_run`).

        Each run whose files go gets a ``removed.json`` marker and a ``models_removed`` event; a failed or
        cancelled run's checkpoint is forgotten (a retry starts afresh).

        Args:
            run_ids: The runs.
            reason: Why, as readers will say it (``kcnn store prune --keep-top 5``).
            dry_run: Count what would be freed; change nothing.
            spare: Name patterns of the files to keep (``model-a*.keras``: the final model). A run that has
                none of them keeps the models it has: this never leaves a run without its last model.
        """
        removal = Removal()
        states = dict(self._conn.execute("SELECT id, state FROM runs").fetchall())
        for run_id in sorted(set(run_ids)):
            if states.get(run_id) in (None, *RESUMABLE):
                continue
            files = model_files(self.run_folder(run_id))
            models = [path for path in files if not path.match("checkpoint-*.keras")]
            if spare:
                kept = [path for path in models if any(path.match(pattern) for pattern in spare)] or models
                files = [path for path in files if path not in kept]
            if not files:
                continue
            removal.runs.append(run_id)
            removal.files += len(files)
            removal.bytes += freed_bytes(files)
            if dry_run:
                continue
            remove_files(self.run_folder(run_id), files, reason)
            with self._write() as conn:
                conn.execute(
                    "UPDATE runs SET checkpoint = NULL, checkpoint_epoch = 0 WHERE id = ? AND state != 'done'",
                    (run_id,),
                )
                self._event(conn, run_id, "models_removed", message=f"{len(files)} file(s): {reason}")
        return removal


def freed_bytes(files: Sequence[Path]) -> int:
    """The bytes deleting `files` frees: a file counts once, and only when all its names are among them."""
    names: dict[tuple[int, int], list[os.stat_result]] = {}
    for path in files:
        info = path.stat()
        names.setdefault((info.st_dev, info.st_ino), []).append(info)
    return sum(infos[0].st_size for infos in names.values() if len(infos) >= infos[0].st_nlink)
