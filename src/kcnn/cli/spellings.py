"""The command line's one grammar, and the old spellings that still work for one release with a notice.

The grammar: a plural noun lists a collection (``kcnn runs``, ``kcnn studies``, ``kcnn workers``) and
``kcnn runs export`` writes it out; a singular noun and a verb act on one item (``kcnn run show ID``,
``kcnn study stop ID``, ``kcnn worker stop PID``, ``kcnn model predict RUN …``). One output flag,
``--format table|json|csv``; every duration is seconds (``90``) or has its unit (``90s``, ``5m``, ``2h``).

`modernize` rewrites an old spelling into the new one before argparse sees it, and says so in one line on
stderr, so every old script keeps working while it tells its author what to write instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Old top-level commands and what they are now (the rest of the command line is kept).
RENAMED_COMMANDS: dict[str, tuple[str, ...]] = {
    "show": ("run", "show"),
    "curves": ("run", "curves"),
    "export": ("runs", "export"),
    "export-model": ("model", "export"),
    "evaluate": ("model", "evaluate"),
    "predict": ("model", "predict"),
}

#: Commands whose second word is an action (``kcnn run show``, ``kcnn queue add``).
GROUPS = {"run", "runs", "model", "study", "worker", "data", "store", "queue", "plot"}

#: Commands that take ``--format table|json…`` (the old ``--json``/``--csv`` switches become it).
FORMAT_COMMANDS = {
    ("train",), ("plan",), ("runs",), ("run", "show"), ("leaderboard",), ("compare",), ("effects",), ("studies",),
    ("study", "show"), ("study", "stop"), ("workers",), ("model", "evaluate"), ("model", "predict"),
    ("data", "info"), ("store", "info"),
}  # fmt: skip


@dataclass(frozen=True)
class Rewrite:
    """A command line in the new grammar, and the notices the old spellings in it earned."""

    argv: list[str]
    notices: list[str]


def modernize(argv: Sequence[str]) -> Rewrite:
    """The command line `argv` in the current grammar, with one notice per old spelling found."""
    args = list(argv)
    notices: list[str] = []
    if not args:
        return Rewrite(args, notices)
    head = args[0]
    if head in RENAMED_COMMANDS:
        new = RENAMED_COMMANDS[head]
        notices.append(_notice(f"kcnn {head}", f"kcnn {' '.join(new)}"))
        args = [*new, *args[1:]]
    elif head == "workers" and len(args) > 1 and args[1] in ("stop", "list"):
        if args[1] == "stop":
            notices.append(_notice("kcnn workers stop PID", "kcnn worker stop PID"))
            args = ["worker", "stop", *args[2:]]
        else:
            notices.append(_notice("kcnn workers list", "kcnn workers"))
            args = ["workers", *args[2:]]
    grouped = args[0] in GROUPS and len(args) > 1 and not args[1].startswith("-")
    command = tuple(args[:2]) if grouped else tuple(args[:1])
    if command in FORMAT_COMMANDS:
        for switch, name in (("--json", "json"), ("--csv", "csv")):
            if switch in args:
                notices.append(_notice(switch, f"--format {name}"))
                args = [*(arg for arg in args if arg != switch), "--format", name]
    if command == ("runs", "export") and "--epochs" in args:
        notices.append(_notice("kcnn export --epochs", "kcnn runs export --table epochs"))
        args = _replace_flag(args, "--epochs", lambda _: ["--table", "epochs"], takes_value=False)
    if command == ("model", "export") and _has_flag(args, "--format"):
        notices.append(_notice("kcnn export-model --format", "kcnn model export --to"))
        args = _replace_flag(args, "--format", lambda value: ["--to", value])
    if command == ("model", "predict") and _has_flag(args, "--top"):
        notices.append(_notice("kcnn predict --top", "kcnn model predict --classes"))
        args = _replace_flag(args, "--top", lambda value: ["--classes", value])
    if command == ("optimize",) and _has_flag(args, "--timeout"):
        notices.append(_notice("kcnn optimize --timeout HOURS", "kcnn optimize --time-limit DURATION (e.g. 5m, 2h)"))
        args = _replace_flag(args, "--timeout", lambda value: ["--time-limit", f"{value}h"])
    return Rewrite(args, notices)


def _notice(old: str, new: str) -> str:
    return f"notice: `{old}` is now `{new}`; the old spelling works until the next release."


def _has_flag(args: Sequence[str], flag: str) -> bool:
    return any(arg == flag or arg.startswith(f"{flag}=") for arg in args)


def _replace_flag(args: list[str], flag: str, new: Callable[[str], list[str]], takes_value: bool = True) -> list[str]:
    """`args` with every ``FLAG VALUE`` (or ``FLAG=VALUE``, or a bare switch) replaced by ``new(VALUE)``."""
    out: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == flag:
            if takes_value and index + 1 < len(args):
                out += new(args[index + 1])
                index += 2
                continue
            out += new("")
        elif takes_value and arg.startswith(f"{flag}="):
            out += new(arg.partition("=")[2])
        else:
            out.append(arg)
        index += 1
    return out
