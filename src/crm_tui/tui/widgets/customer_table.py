"""The virtual customer table: its height is the row count, rows come from the store on demand.

Built on Textual's line API (``ScrollView`` + ``render_line``), as Textual's ``Log`` and Toolong
are: the virtual height is the number of matching customers plus the header line, and
``render_line`` draws only the visible lines, from an LRU cache of pages. Missing pages are
fetched by thread workers; each result carries the generation it was asked for, and a result
from an older generation (the query changed meanwhile) is dropped, because ``exclusive=True``
does not stop a thread that is already running (DESIGN §11). The table never holds all
customers: at most ``MAX_PAGES`` pages of ``PAGE_SIZE`` rows.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, ClassVar, Protocol

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import on
from textual.binding import Binding, BindingType
from textual.events import Click, Resize
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import Worker

from crm_tui.i18n import _
from crm_tui.present.format import short_date
from crm_tui.present.textsafe import printable
from crm_tui.tui.messages import forward_failed_worker

if TYPE_CHECKING:
    from crm_tui.store.records import CustomerRecord

PAGE_SIZE = 100
MAX_PAGES = 24
MARGIN_ROWS = 50
"""Rows fetched above and below the viewport, so a short scroll finds them loaded."""


class RowSource(Protocol):
    """Where the table's rows come from: a count and a window (called in worker threads)."""

    def count(self) -> int: ...

    def page(self, offset: int, limit: int) -> Sequence[CustomerRecord]: ...


@dataclass(frozen=True)
class Column:
    key: str
    """The ``ListQuery.sort`` key this column sorts by."""
    title: str
    width: int
    """Cells; for a flexible column, the least it gets."""
    flex: int = 0
    """Share of the width left over after the fixed columns."""
    drop: int = 0
    """When the columns do not fit (80 columns), those with the highest ``drop`` give way
    first; 0: never (the name, and the phone a rep dials)."""
    whole: bool = False
    """Never cut: the column is as wide as its widest value on screen (a phone number)."""


def default_columns() -> list[Column]:
    return [
        Column("name", _("Name"), 12, flex=3),
        Column("company", _("Company"), 12, flex=3),
        Column("status", _("Status"), 7, drop=1),
        Column("tier", _("Tier"), 4, drop=2),
        Column("owner", _("Owner"), 10, drop=3),
        Column("last_follow_up_at", _("Last f/u"), 10, drop=4),
        Column("next_follow_up_at", _("Next f/u"), 10),
        Column("phone", _("Phone"), 15, whole=True),
    ]


def cell_text(record: CustomerRecord, key: str) -> str:
    """The text of one cell, literal (control characters escaped)."""
    if key == "last_follow_up_at":
        return short_date(record.last_follow_up_at)
    if key == "next_follow_up_at":
        return short_date(record.next_follow_up_at)
    if key == "owner":
        return printable(record.owner or _("(open sea)"))
    return printable(getattr(record, key, "") or "")


def fit(text: str, width: int) -> str:
    """``text`` padded or cut to exactly ``width`` cells (CJK characters are two cells)."""
    if cell_len(text) > width and width > 1:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


class PageCache:
    """Pages of rows by page number, least recently used dropped first."""

    def __init__(self, max_pages: int = MAX_PAGES) -> None:
        self.max_pages = max_pages
        self._pages: OrderedDict[int, list[CustomerRecord]] = OrderedDict()
        self.stale: set[int] = set()
        """Pages kept on screen while their fresh copy loads (after a live update)."""

    def row(self, index: int) -> CustomerRecord | None:
        page_no, offset = divmod(index, PAGE_SIZE)
        rows = self._pages.get(page_no)
        if rows is None or offset >= len(rows):
            return None
        return rows[offset]

    def has(self, page_no: int) -> bool:
        return page_no in self._pages and page_no not in self.stale

    def put(self, page_no: int, rows: list[CustomerRecord]) -> None:
        self._pages[page_no] = rows
        self._pages.move_to_end(page_no)
        self.stale.discard(page_no)
        while len(self._pages) > self.max_pages:
            dropped, _rows = self._pages.popitem(last=False)
            self.stale.discard(dropped)

    def touch(self, page_no: int) -> None:
        if page_no in self._pages:
            self._pages.move_to_end(page_no)

    def mark_stale(self) -> None:
        self.stale = set(self._pages)

    def clear(self) -> None:
        self._pages.clear()
        self.stale.clear()

    def row_count(self) -> int:
        return sum(len(rows) for rows in self._pages.values())

    def rows(self) -> Iterator[CustomerRecord]:
        """Every row held, page by page."""
        for rows in self._pages.values():
            yield from rows

    def __len__(self) -> int:
        return len(self._pages)


class CustomerTable(ScrollView, can_focus=True):
    """A scrolling table over any number of customers, loading only what is in view."""

    DEFAULT_CSS = """
    CustomerTable {
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-gutter: stable;
        background: $surface;
        color: $foreground;
    }
    CustomerTable > .customer-table--header {
        text-style: bold;
        background: $panel;
        color: $foreground;
    }
    CustomerTable > .customer-table--cursor {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
    }
    CustomerTable:focus > .customer-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    CustomerTable > .customer-table--overdue {
        color: $text-error;
        text-style: bold;
    }
    CustomerTable > .customer-table--placeholder {
        color: $text-muted;
    }
    """

    HELP_NAME = _("the table")
    """Where its keys work, as the help screen says it."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "customer-table--header",
        "customer-table--cursor",
        "customer-table--overdue",
        "customer-table--placeholder",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "cursor_down", _("Down"), show=False, id="table.down",
                tooltip=_("Move to the next customer")),
        Binding("up,k", "cursor_up", _("Up"), show=False, id="table.up",
                tooltip=_("Move to the previous customer")),
        Binding("pagedown", "page_down", _("Page down"), show=False, id="table.page_down",
                tooltip=_("Move one screen down")),
        Binding("pageup", "page_up", _("Page up"), show=False, id="table.page_up",
                tooltip=_("Move one screen up")),
        Binding("home,g", "first", _("First"), show=False, id="table.first",
                tooltip=_("Jump to the first customer")),
        Binding("end,G", "last", _("Last"), show=False, id="table.last",
                tooltip=_("Jump to the last customer")),
        Binding("enter", "open", _("Open"), id="table.open",
                tooltip=_("Open the portrait of the customer under the cursor")),
        Binding("space", "toggle_select", _("Select"), id="table.select",
                tooltip=_("Mark or unmark the customer under the cursor (multi-select tables)")),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=False, init=False)
    """Index of the highlighted row in the whole listing."""

    class Opened(Message):
        """Enter (or a double click) on a customer."""

        def __init__(self, table: CustomerTable, customer_id: int) -> None:
            super().__init__()
            self.table = table
            self.customer_id = customer_id

        @property
        def control(self) -> CustomerTable:
            return self.table

    class CursorMoved(Message):
        """The cursor is on another row; ``customer_id`` is None while its page loads."""

        def __init__(self, table: CustomerTable, row: int, customer_id: int | None) -> None:
            super().__init__()
            self.table = table
            self.row = row
            self.customer_id = customer_id

        @property
        def control(self) -> CustomerTable:
            return self.table

    class Counted(Message):
        """The listing was counted: ``total`` rows match the current query."""

        def __init__(self, table: CustomerTable, total: int) -> None:
            super().__init__()
            self.table = table
            self.total = total

        @property
        def control(self) -> CustomerTable:
            return self.table

    class HeaderClicked(Message):
        """A column title was clicked (the screen sorts by it)."""

        def __init__(self, table: CustomerTable, column_key: str) -> None:
            super().__init__()
            self.table = table
            self.column_key = column_key

        @property
        def control(self) -> CustomerTable:
            return self.table

    class SelectionChanged(Message):
        """Rows were marked or unmarked (multi-select tables); ``selected`` holds customer ids."""

        def __init__(self, table: CustomerTable, selected: frozenset[int]) -> None:
            super().__init__()
            self.table = table
            self.selected = selected

        @property
        def control(self) -> CustomerTable:
            return self.table

    class _PageLoaded(Message):
        def __init__(self, generation: int, page_no: int, rows: list[CustomerRecord]) -> None:
            super().__init__()
            self.generation = generation
            self.page_no = page_no
            self.rows = rows

    class _CountLoaded(Message):
        def __init__(self, generation: int, total: int) -> None:
            super().__init__()
            self.generation = generation
            self.total = total

    def __init__(
        self,
        *,
        today: Callable[[], date] = date.today,
        columns: list[Column] | None = None,
        cell: Callable[[CustomerRecord, str], str] | None = None,
        multi_select: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = columns or default_columns()
        self.cell = cell or cell_text
        """The text of a cell from its record and column key (screens add their own columns)."""
        self.multi_select = multi_select
        """Space marks rows (the leading cell shows ✓); ``selected`` holds their customer ids."""
        self.selected: set[int] = set()
        self.today = today
        """Today's date, for the overdue colour (injectable so snapshots stay still)."""
        self.sort_key = "name"
        self.sort_descending = False
        self.total: int | None = None
        """Rows matching the query; None until counted."""
        self.source: RowSource | None = None
        self._cache = PageCache()
        self._pending: set[int] = set()
        self._generation = 0
        self._widths: list[int] = []
        self._widths_for = -1

    # --- feeding the table ------------------------------------------------------------------

    def set_source(self, source: RowSource, *, sort_key: str, descending: bool) -> None:
        """Show another listing (a new search, sort or filter): start again at the top."""
        self.source = source
        self.sort_key = sort_key
        self.sort_descending = descending
        self._generation += 1
        self._cache.clear()
        self._pending.clear()
        self.total = None
        self.set_reactive(CustomerTable.cursor_row, 0)
        self.scroll_to(y=0, animate=False, immediate=True)
        self._load_count(self._generation, source, first_page=0)
        self.refresh()

    def reload(self) -> None:
        """Fetch the same listing again (it changed elsewhere), keeping the cursor where it is.

        Rows on screen stay until their fresh copy arrives, so a live update never flickers.
        """
        if self.source is None:
            return
        self._generation += 1
        self._pending.clear()
        self._cache.mark_stale()
        self._load_count(self._generation, self.source, first_page=None)

    @property
    def loaded_rows(self) -> int:
        """How many rows are held in memory (never the whole listing)."""
        return self._cache.row_count()

    def row_at(self, index: int) -> CustomerRecord | None:
        """The customer on row ``index`` if its page is loaded."""
        return self._cache.row(index)

    @property
    def cursor_customer(self) -> CustomerRecord | None:
        return self._cache.row(self.cursor_row)

    def _load_count(self, generation: int, source: RowSource, first_page: int | None) -> None:
        def count_and_first_page() -> None:
            rows = source.page(0, PAGE_SIZE) if first_page == 0 else None
            if rows is not None:
                self.post_message(self._PageLoaded(generation, 0, list(rows)))
            total = source.count()
            self.post_message(self._CountLoaded(generation, total))

        self.run_worker(
            count_and_first_page, thread=True, exclusive=True, exit_on_error=False,
            group="customer-table-count", name="count customers",
        )

    def _request_page(self, page_no: int) -> None:
        if self.source is None or page_no in self._pending or self._cache.has(page_no):
            return
        self._pending.add(page_no)
        generation, source = self._generation, self.source

        def fetch() -> None:
            rows = list(source.page(page_no * PAGE_SIZE, PAGE_SIZE))
            self.post_message(self._PageLoaded(generation, page_no, rows))

        self.run_worker(
            fetch, thread=True, exit_on_error=False, group="customer-table-page",
            name=f"load customers page {page_no}",
        )

    def _ensure_pages(self) -> None:
        """Ask for the pages in view plus a margin above and below."""
        if self.total is None or self.total == 0:
            return
        top = max(0, int(self.scroll_y) - MARGIN_ROWS)
        bottom = min(self.total - 1, int(self.scroll_y) + self.size.height + MARGIN_ROWS)
        visible_pages = range(top // PAGE_SIZE, bottom // PAGE_SIZE + 1)
        for page_no in visible_pages:
            self._cache.touch(page_no)
        for page_no in visible_pages:
            self._request_page(page_no)

    @on(_PageLoaded)
    def _page_loaded(self, message: _PageLoaded) -> None:
        message.stop()
        if message.generation != self._generation:
            return
        self._pending.discard(message.page_no)
        self._cache.put(message.page_no, message.rows)
        self._widths = []  # a wider phone number may have arrived
        if self.total is None:
            self._update_virtual_size()
        self.refresh()
        first = message.page_no * PAGE_SIZE
        if first <= self.cursor_row < first + PAGE_SIZE:
            self._announce_cursor()

    @on(_CountLoaded)
    def _count_loaded(self, message: _CountLoaded) -> None:
        message.stop()
        if message.generation != self._generation:
            return
        self.total = message.total
        if self.cursor_row >= message.total:
            self.set_reactive(CustomerTable.cursor_row, max(0, message.total - 1))
        self._update_virtual_size()
        self.post_message(self.Counted(self, message.total))
        self._ensure_pages()
        self.refresh()

    @on(Worker.StateChanged)
    def _forward_failed_worker(self, event: Worker.StateChanged) -> None:
        forward_failed_worker(self, event)

    # --- geometry -----------------------------------------------------------------------------

    def _update_virtual_size(self) -> None:
        rows = self.total if self.total is not None else self._cache.row_count()
        self.virtual_size = Size(self.scrollable_content_region.width, rows + 1)

    def on_resize(self, event: Resize) -> None:
        self._widths = []
        self._update_virtual_size()
        self._ensure_pages()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._ensure_pages()

    @property
    def visible_rows(self) -> int:
        """Data rows that fit under the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def _column_widths(self, width: int) -> list[int]:
        """Each column's cells (0: left out), filling ``width`` with one space between columns.

        Columns that do not fit give way by ``drop``; a ``whole`` column is as wide as its
        widest loaded value; what is left goes to the flexible columns by their share.
        """
        if self._widths and self._widths_for == width:
            return self._widths
        minimum = [self._least_width(c) for c in self.columns]
        shown = [True] * len(self.columns)

        def needed() -> int:
            return 1 + sum(w + 1 for w, on in zip(minimum, shown, strict=True) if on)

        for rank in sorted({c.drop for c in self.columns if c.drop}, reverse=True):
            for i, column in enumerate(self.columns):
                if needed() > width and column.drop == rank:
                    shown[i] = False
        spare = max(0, width - needed())
        flex_total = sum(c.flex for c, on in zip(self.columns, shown, strict=True) if on) or 1
        widths = [
            (least + (spare * c.flex // flex_total if c.flex else 0)) if on else 0
            for c, least, on in zip(self.columns, minimum, shown, strict=True)
        ]
        leftover = width - 1 - sum(w + 1 for w in widths if w)
        for i, column in enumerate(self.columns):
            if column.flex and shown[i] and leftover > 0:
                widths[i] += leftover
                break
        self._widths, self._widths_for = widths, width
        return widths

    def _least_width(self, column: Column) -> int:
        if not column.whole:
            return column.width
        values = (cell_len(self.cell(r, column.key)) for r in self._cache.rows())
        return max(column.width, cell_len(column.title) + 2, *values)

    def visible_columns(self) -> list[str]:
        """The keys of the columns shown at the current width (the rest gave way)."""
        widths = self._column_widths(self.scrollable_content_region.width)
        return [c.key for c, cells in zip(self.columns, widths, strict=True) if cells]

    # --- drawing ------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            return self._header_strip(width)
        index = int(self.scroll_y) + y - 1
        if self.total is None:
            # The first page may arrive before the count: show it at once.
            record = self._cache.row(index)
            if record is not None:
                return self._row_strip(record, width, cursor=index == self.cursor_row)
            if y == 1:
                return self._message_strip(_("Loading…"), width)
            return Strip.blank(width, base)
        if self.total == 0:
            if y == 1:
                return self._message_strip(_("No customers match."), width)
            return Strip.blank(width, base)
        if index >= self.total:
            return Strip.blank(width, base)
        record = self._cache.row(index)
        if record is None:
            return self._message_strip("…", width, cursor=index == self.cursor_row)
        return self._row_strip(record, width, cursor=index == self.cursor_row)

    def _header_strip(self, width: int) -> Strip:
        style = self.get_component_rich_style("customer-table--header")
        arrow = " ▼" if self.sort_descending else " ▲"
        segments = [Segment(" ", style)]
        for column, cells in zip(self.columns, self._column_widths(width), strict=True):
            if not cells:
                continue
            title = column.title + (arrow if column.key == self.sort_key else "")
            segments.append(Segment(fit(title, cells) + " ", style))
        return Strip(segments).crop_extend(0, width, style)

    def _message_strip(self, text: str, width: int, *, cursor: bool = False) -> Strip:
        component = "customer-table--cursor" if cursor else "customer-table--placeholder"
        style = self.get_component_rich_style(component)
        return Strip([Segment(" " + fit(text, width - 1), style)], width)

    def _row_strip(self, record: CustomerRecord, width: int, *, cursor: bool) -> Strip:
        base = self.get_component_rich_style("customer-table--cursor") if cursor else self.rich_style
        overdue_style: Style | None = None
        next_at = record.next_follow_up_at
        if next_at is not None and next_at < self.today():
            overdue_style = base + self.get_component_rich_style(
                "customer-table--overdue", partial=True
            )
        segments = [Segment("✓" if record.id in self.selected else " ", base)]
        for column, cells in zip(self.columns, self._column_widths(width), strict=True):
            if not cells:
                continue
            style = overdue_style if column.key == "next_follow_up_at" and overdue_style else base
            segments.append(Segment(fit(self.cell(record, column.key), cells), style))
            segments.append(Segment(" ", base))
        return Strip(segments).crop_extend(0, width, base)

    # --- cursor -------------------------------------------------------------------------------

    def watch_cursor_row(self, old_row: int, new_row: int) -> None:
        self._scroll_cursor_into_view()
        self.refresh()
        self._announce_cursor()

    def _announce_cursor(self) -> None:
        record = self._cache.row(self.cursor_row)
        self.post_message(self.CursorMoved(self, self.cursor_row, record.id if record else None))

    def _scroll_cursor_into_view(self) -> None:
        top = int(self.scroll_y)
        rows = self.visible_rows
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + rows:
            self.scroll_to(y=self.cursor_row - rows + 1, animate=False, immediate=True)

    def move_cursor(self, row: int) -> None:
        """Put the cursor on ``row`` (clamped to the listing)."""
        last = max(0, (self.total or 0) - 1)
        self.cursor_row = min(max(0, row), last)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_row + self.visible_rows)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_row - self.visible_rows)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor((self.total or 0) - 1)

    def action_open(self) -> None:
        record = self.cursor_customer
        if record is not None:
            self.post_message(self.Opened(self, record.id))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Space (select) exists only in multi-select tables, and shows in the footer there."""
        if action == "toggle_select":
            return self.multi_select
        return True

    def action_toggle_select(self) -> None:
        record = self.cursor_customer
        if not self.multi_select or record is None:
            return
        self.selected.symmetric_difference_update({record.id})
        self.post_message(self.SelectionChanged(self, frozenset(self.selected)))
        self.move_cursor(self.cursor_row + 1)
        self.refresh()

    def clear_selection(self) -> None:
        if self.selected:
            self.selected.clear()
            self.post_message(self.SelectionChanged(self, frozenset()))
            self.refresh()

    def on_click(self, event: Click) -> None:
        if event.y == 0:
            key = self._column_at(event.x)
            if key is not None:
                self.post_message(self.HeaderClicked(self, key))
            return
        row = int(self.scroll_y) + event.y - 1
        if self.total and row < self.total:
            self.move_cursor(row)
            if event.chain >= 2:
                self.action_open()

    def _column_at(self, x: int) -> str | None:
        left = 1
        for column, cells in zip(
            self.columns, self._column_widths(self.scrollable_content_region.width), strict=True
        ):
            if not cells:
                continue
            if left <= x < left + cells + 1:
                return column.key
            left += cells + 1
        return None
