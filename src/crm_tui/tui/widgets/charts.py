"""Charts drawn with text, for the dashboard: labelled horizontal bars and weekly sparklines.

No plotting dependency: a bar is a run of block characters (eighths for the last cell), so the
picture is the same in every terminal and in snapshot tests. Labels are user text (rep names,
segments) and are drawn literally, padded by cell width (CJK characters are two cells).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from crm_tui.present.textsafe import printable

EIGHTHS = " ▏▎▍▌▋▊▉"
FULL = "█"
SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Bar:
    """One bar: its label, the value that sets its length and the text shown after it."""

    label: str
    value: float
    note: str = ""


def bar_text(value: float, top: float, width: int) -> str:
    """``value`` as a bar of at most ``width`` cells, ``top`` filling them all."""
    if top <= 0 or value <= 0 or width <= 0:
        return ""
    eighths = round(value / top * width * 8)
    eighths = max(1, min(eighths, width * 8))
    full, rest = divmod(eighths, 8)
    return FULL * full + (EIGHTHS[rest] if rest else "")


def sparkline(values: Sequence[float], top: float | None = None) -> str:
    """One block character per value, ``top`` (default: the largest) the tallest."""
    top = max(values, default=0) if top is None else top
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(len(SPARK) - 1, int(value * (len(SPARK) - 1) / top + 0.5))]
                   for value in values)


def _pad(text: str, width: int) -> str:
    if cell_len(text) > width and width > 1:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


class BarChart(Widget):
    """Horizontal bars with a title: ``label ████▍ note`` per line."""

    DEFAULT_CSS = """
    BarChart {
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(
        self,
        title: str,
        *,
        label_width: int = 12,
        bar_style: str = "",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.title = title
        self.label_width = label_width
        self.bar_style = bar_style
        self.bars: list[Bar] = []

    def set_bars(self, bars: Sequence[Bar]) -> None:
        self.bars = list(bars)
        self.refresh(layout=True)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return 1 + max(1, len(self.bars))

    def render(self) -> RenderResult:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(printable(self.title), style="bold")
        if not self.bars:
            text.append("\n…", style="dim")
            return text
        width = self.size.width or 40
        notes = [printable(bar.note) for bar in self.bars]
        note_width = max((cell_len(note) for note in notes), default=0)
        bar_width = max(1, width - self.label_width - note_width - 3)
        top = max((bar.value for bar in self.bars), default=0)
        for bar, note in zip(self.bars, notes, strict=True):
            text.append("\n")
            text.append(_pad(printable(bar.label), self.label_width) + " ")
            drawn = bar_text(bar.value, top, bar_width)
            text.append(drawn, style=self.bar_style or "")
            text.append(" " * (bar_width - cell_len(drawn) + 1))
            text.append(note.rjust(note_width), style="dim" if not bar.value else "")
        return text


class WeekSparks(Widget):
    """Two sparklines over the same weeks (such as open-sea inflow and outflow), with totals."""

    DEFAULT_CSS = """
    WeekSparks {
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(
        self,
        title: str,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.title = title
        self.series: list[tuple[str, list[int], str]] = []
        self.caption = ""

    def set_series(self, series: Sequence[tuple[str, Sequence[int], str]], caption: str = "") -> None:
        """``series``: (label, one value per week, style) rows; ``caption`` goes underneath."""
        self.series = [(label, list(values), style) for label, values, style in series]
        self.caption = caption
        self.refresh(layout=True)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return 1 + max(1, len(self.series)) + (len(self.caption.splitlines()) if self.caption else 0)

    def render(self) -> RenderResult:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(printable(self.title), style="bold")
        if not self.series:
            text.append("\n…", style="dim")
            return text
        label_width = max(cell_len(label) for label, _values, _style in self.series)
        top = max((max(values, default=0) for _label, values, _style in self.series), default=0)
        for label, values, style in self.series:
            text.append("\n")
            text.append(_pad(printable(label), label_width) + " ")
            # Each week two cells wide, so eight weeks read as a small chart.
            text.append("".join(mark * 2 for mark in sparkline(values, top)), style=style)
            text.append(f"  {sum(values)}")
        if self.caption:
            text.append("\n")
            text.append(printable(self.caption), style="dim")
        return text
