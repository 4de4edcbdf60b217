"""Entry point of `kcnn-tui`. The screens are not built yet."""

from __future__ import annotations

import sys


def main() -> int:
    """Say that the TUI is not built yet, and what to use meanwhile."""
    print("kcnn-tui is not built yet; use the `kcnn` command meanwhile (`kcnn --help`).", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
