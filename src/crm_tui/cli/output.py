"""Tables the commands print: boxed for a terminal, plain columns one row a line for a pipe.

A Rich table sized for no terminal folds each row over many lines when ``crm pool | less`` or
``crm due > today.txt`` reads it; a pipe gets what ``crm find`` prints instead: aligned plain
columns (``present.format.columns``), one row a line, the title (if any) on its own line first.
User text is shown literally either way (``present.textsafe.printable``).
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Sequence

import typer


def to_terminal() -> bool:
    """Whether standard output is a terminal (a person reading), not a pipe or a file."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    title: str | None = None,
    right: Collection[int] = (),
    fold: bool = False,
    light: bool = False,
) -> None:
    """Print ``rows`` under ``headers``: a Rich table on a terminal, plain columns in a pipe.

    ``right`` holds the indexes of right-aligned (number) columns; ``fold`` lets a terminal
    table wrap long cells rather than cut them; ``light`` draws only a rule under the header
    (the dashboard's figures).
    """
    from crm_tui.present.textsafe import printable

    # One row a line: a line break or tab inside a cell is shown as a space.
    cells = [["" if cell is None else printable(cell).replace("\n", " ").replace("\t", " ")
              for cell in row] for row in rows]
    if not to_terminal():
        from crm_tui.present.format import columns

        if title:
            typer.echo(printable(title))
        typer.echo(columns(list(headers), cells, max_width=48))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", header_style="bold",
                  box=box.SIMPLE_HEAD if light else box.HEAVY_HEAD, pad_edge=not light)
    for index, header in enumerate(headers):
        table.add_column(header, justify="right" if index in right else "left",
                         overflow="fold" if fold else "ellipsis")
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))
    Console(highlight=False, soft_wrap=False).print(table)
