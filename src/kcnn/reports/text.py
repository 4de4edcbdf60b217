r"""User-supplied text made safe to print.

No Rich markup is interpreted and no control character reaches the terminal: a class folder named
``\x1b[41m…`` is shown as ``\x1b[41m…``, not obeyed.
"""

from __future__ import annotations

from rich.markup import escape

#: C0 and C1 control characters and DEL, shown as visible escapes (tab and newline included: a table
#: cell or a one-line error must stay one line).
_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))}


_CONTROL_BUT_NEWLINES = {code: text for code, text in _CONTROL.items() if code != 0x0A}


def printable(text: object, lines: bool = False) -> str:
    r"""`text` with every control character replaced by a visible ``\xNN`` escape.

    Args:
        text: Any text (converted with `str`).
        lines: Keep newlines (a multi-line message shown as such). Defaults to `False`.
    """
    return str(text).translate(_CONTROL_BUT_NEWLINES if lines else _CONTROL)


def safe(text: object, lines: bool = False) -> str:
    """`text` ready to embed in Rich markup: control characters made visible, markup escaped."""
    return escape(printable(text, lines))
