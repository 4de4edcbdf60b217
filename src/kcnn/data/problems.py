"""Everything wrong with an image folder, at once: its classes and its unreadable files.

`kcnn data info` shows the list and never refuses; training refuses with the whole list, or, with
``--skip-bad``, leaves out what can be left out: unreadable files, and the classes of a
one-folder-per-class layout that have no readable image. The class list of a pre-split
``train/``/``val/`` folder is never changed: its classes are the user's declared problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kcnn.data.folder_scan import FolderScan
from kcnn.errors import BadFilesError

SKIP_BAD_HINT = "--skip-bad trains without unreadable files and empty class folders"


@dataclass(frozen=True)
class FolderProblem:
    """One thing that stops a folder from training as it is."""

    where: str
    """The file or folder, relative to the dataset folder (``.``: the folder itself)."""
    what: str
    """What is wrong, and how to fix it when that is not obvious."""
    skippable: bool = False
    """Whether ``--skip-bad`` trains without it."""


def folder_problems(scan: FolderScan, unreadable: Sequence[tuple[str, str]] = ()) -> list[FolderProblem]:
    """Every problem of the folder: missing, single or empty classes, then each unreadable file.

    Args:
        scan: The scanned folder.
        unreadable: ``(file, reason)`` of the files that cannot be decoded (empty: structure only).

    Returns:
        The problems, structural ones first; empty when the folder trains as it is.
    """
    problems = _class_count_problems(scan)
    bad = {path for path, _ in unreadable}
    files = [[0, 0] for _ in scan.class_names]  # [train, val] files per class
    readable = [[0, 0] for _ in scan.class_names]
    for path, label, is_val in zip(scan.files, scan.labels, scan.is_val, strict=True):
        files[label][is_val] += 1
        readable[label][is_val] += path not in bad
    for label, name in enumerate(scan.class_names):
        if scan.presplit:
            problems += _presplit_class_problems(scan, name, files[label], readable[label])
        else:
            problems += _class_problems(name, sum(files[label]), sum(readable[label]))
    problems += [FolderProblem(path, reason, skippable=True) for path, reason in unreadable]
    return problems


def _class_count_problems(scan: FolderScan) -> list[FolderProblem]:
    loose = f" ({scan.loose_images} image(s) lie directly in it)" if scan.loose_images else ""
    if not scan.class_names:
        return [FolderProblem(".", f"no class sub-folders{loose}; put each class's images in its own folder")]
    if len(scan.class_names) == 1:
        return [
            FolderProblem(
                f"{scan.class_names[0]}/",
                "the only class folder; classification needs at least two class folders",
            )
        ]
    return []


def _class_problems(name: str, files: int, readable: int) -> list[FolderProblem]:
    if files == 0:
        return [FolderProblem(f"{name}/", "empty class folder (no images); add images or remove it", skippable=True)]
    if readable == 0:
        return [FolderProblem(f"{name}/", "every image of this class is unreadable", skippable=True)]
    if readable == 1:
        return [
            FolderProblem(
                f"{name}/", "one readable image; a train/validation split needs at least 2 per class: add images"
            )
        ]
    return []


def _presplit_class_problems(scan: FolderScan, name: str, files: list[int], readable: list[int]) -> list[FolderProblem]:
    problems = []
    for index, (subset, role) in enumerate(zip(scan.subsets, ("training", "validation"), strict=True)):
        if readable[index]:
            continue
        state = f"every {role} image is unreadable" if files[index] else f"no {role} images"
        problems.append(
            FolderProblem(
                f"{subset}/{name}/",
                f"class {name!r} has {state}; every class of a {scan.subsets[0]}/{scan.subsets[1]} folder needs "
                "both (--skip-bad never changes its class list)",
            )
        )
    return problems


def refusal(path: str, problems: Sequence[FolderProblem], skip_bad: bool) -> BadFilesError | None:
    """The one error that lists what stops training, or `None` when nothing does.

    Args:
        path: The dataset as the user gave it.
        problems: `folder_problems` of the folder.
        skip_bad: Whether unreadable files and empty classes may be left out.
    """
    blocking = [p for p in problems if not (skip_bad and p.skippable)]
    if not blocking:
        return None
    listed = [(p.where, p.what) for p in blocking]
    if all(p.skippable for p in blocking) and all(not p.where.endswith("/") for p in blocking):
        return BadFilesError(
            f"{len(blocking)} file(s) in {path} cannot be read (listed above); fix or remove them, or pass "
            "--skip-bad to train without them.",
            listed,
        )
    advice = "fix them" if skip_bad or not all(p.skippable for p in blocking) else f"fix them ({SKIP_BAD_HINT})"
    unreadable = sum(p.skippable and not p.where.endswith("/") for p in blocking)
    parts = [f"{len(blocking) - unreadable} with its classes"] if len(blocking) > unreadable else []
    parts += [f"{unreadable} unreadable file(s)"] if unreadable else []
    note = " (--skip-bad cannot skip these)" if skip_bad else ""
    return BadFilesError(
        f"{path} has {len(blocking)} problem(s){note}, listed above: {', '.join(parts)}; {advice}, then train "
        f"again (`kcnn data info {path}` shows the folder).",
        listed,
    )
