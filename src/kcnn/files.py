"""Files that are whole or absent: atomic writes and links, and the cleanup of a killed process's temporaries.

Writes go to a temporary name, are fsynced and renamed. This module sits below every layer: the data
cache and the store both use it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

#: Names of the temporary folders kcnn's processes make (`scratch_folder`), each followed by the maker's PID.
SCRATCH_PREFIXES = ("kcnn-slot-", "kcnn-train-", "kcnn-warm-up-")


def output_file(path: str | os.PathLike[str], flag: str, suffix: str = "") -> Path:
    """Check a file the user asked kcnn to write, before any work is done for it.

    Args:
        path: The path given.
        flag: How the user gave it (``--png``), for the message.
        suffix: The suffix the written file will have (``.png``); added when the name has none, so the path
            reported is the path written.

    Returns:
        The path that will be written.

    Raises:
        KcnnError: If the path is a folder, or its folder does not exist or cannot be written.
    """
    from kcnn.errors import KcnnError

    target = Path(path).expanduser()
    if target.is_dir():
        example = target / f"figure{suffix or '.out'}"
        raise KcnnError(f"`{flag} {path}` is a folder; name a file in it, such as `{flag} {example}`.")
    if suffix and not target.suffix:
        target = target.with_name(target.name + suffix)
    folder = target.parent
    if not folder.is_dir():
        raise KcnnError(f"`{flag} {path}`: the folder {str(folder)!r} does not exist; create it first.")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise KcnnError(f"`{flag} {path}`: {str(target)!r} cannot be written (permission denied).")
    return target


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Create `path` so that readers see either the old file or the whole new one.

    Args:
        path: The final path.
        write: Writes the content to the temporary path it is given (same
            folder and suffix as `path`).

    Returns:
        `path`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_folder(path.parent)
    return path


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files a killed process left in `folder` (``.NAME.PID.tmp…``, PID no longer alive).

    Called by the next process that owns the folder; files of living processes are left alone.

    Returns:
        The files removed.
    """
    removed: list[Path] = []
    try:
        candidates = list(folder.glob(".*.tmp*"))
    except OSError:
        return removed
    for path in candidates:
        parts = path.name.split(".")
        pid = next((int(part) for part in reversed(parts) if part.isdigit()), None)
        if not _left_by_dead_process(pid):
            continue
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            continue
    return removed


def scratch_folder(prefix: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary folder named for this process (``PREFIX PID-…``), removed when its ``with`` block ends.

    A process killed inside the block cannot remove it; the PID in its name lets `remove_stale_scratch`, run by
    the next kcnn process on the machine, tell it from a living process's folder.

    Args:
        prefix: One of `SCRATCH_PREFIXES`.
    """
    if prefix not in SCRATCH_PREFIXES:
        raise ValueError(f"unknown scratch prefix {prefix!r}; add it to SCRATCH_PREFIXES")
    return tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-")


def remove_stale_scratch(folder: Path | None = None) -> list[Path]:
    """Delete the `scratch_folder` folders that killed processes left in `folder` (the temporary folder).

    A folder is removed only when the PID in its name is no longer alive; folders of living processes, and
    folders of other programs, are left alone.

    Returns:
        The folders removed.
    """
    root = folder if folder is not None else Path(tempfile.gettempdir())
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    removed: list[Path] = []
    for path in entries:
        prefix = next((prefix for prefix in SCRATCH_PREFIXES if path.name.startswith(prefix)), None)
        if prefix is None:
            continue
        pid_text, dash, _ = path.name[len(prefix) :].partition("-")
        if not dash or not pid_text.isdigit() or path.is_symlink() or not path.is_dir():
            continue
        if not _left_by_dead_process(int(pid_text)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    return removed


def _left_by_dead_process(pid: int | None) -> bool:
    """Whether `pid` names a process, not this one, that is no longer alive."""
    return pid is not None and pid != os.getpid() and not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def atomic_link(source: Path, path: Path) -> bool:
    """Give the complete file `source` a second name, `path`, replacing any file there atomically.

    No bytes are copied: both names share one inode, so deleting `source` later leaves `path` whole.

    Returns:
        False (and nothing changed) where the file system has no hard links or the two
        names are on different devices; the caller then writes the file itself.
    """
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.link{path.suffix}")
    temporary.unlink(missing_ok=True)
    try:
        os.link(source, temporary)
    except OSError:
        return False
    try:
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_folder(path.parent)
    return True


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
