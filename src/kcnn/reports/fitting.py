"""Tables that fit the terminal: the least important columns go first, the rest fold, no number is ever cut.

Rich shrinks a table that is wider than the terminal by cutting cells to "…": "93.45%" becomes "93…".
`fit_table` instead hides whole columns, least important first, until the table fits, and lets what still
does not fit wrap onto a second line; a note in the caption names what was hidden.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

#: Wide enough for any table: what "print everything" means.
UNLIMITED_WIDTH = 100_000


def natural_width(table: Table) -> int:
    """The width `table` takes when nothing limits it."""
    console = Console(width=UNLIMITED_WIDTH, file=io.StringIO())
    return Measurement.get(console, console.options, table).maximum


def fit_table(table: Table, width: int, drop_order: Sequence[str] = ()) -> Table:
    """Narrow `table` to `width` columns of text: hide columns in `drop_order` (by header), then fold.

    Args:
        table: The table, changed in place.
        width: The width to fit.
        drop_order: Headers of the columns that may be hidden, least important first.

    Returns:
        The same table.
    """
    hidden = []
    for header in drop_order:
        if natural_width(table) <= width:
            break
        column = next((c for c in table.columns if c.header == header), None)
        if column is not None:
            table.columns.remove(column)
            hidden.append(header)
    for column in table.columns:
        column.overflow = "fold"  # wrap what still does not fit; never "93…"
    if hidden:
        note = f"{len(hidden)} column(s) hidden to fit {width} columns: {', '.join(hidden)} (--wide shows all)"
        table.caption = f"{table.caption} · {note}" if table.caption else note
    return table


def drop_order(table: Table, first: Sequence[str], keep: Sequence[str]) -> list[str]:
    """Headers in hiding order: `first`, then every other column not in `keep`, last column first."""
    rest = [str(c.header) for c in reversed(table.columns) if c.header not in first and c.header not in keep]
    return [*first, *rest]
