"""The search box over the customer list: typed text settles, then the list asks the store."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input

from crm_tui.i18n import _

DEBOUNCE_SECONDS = 0.08
"""A search runs when typing pauses this long (fast typing does not query every letter)."""


class SearchBar(Input):
    """An input that reports its text once typing pauses, and hands focus back on Esc/Enter."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave(True)", _("Clear search"), id="search.clear",
                tooltip=_("Clear the search text, or go back to the list when it is empty")),
        Binding("down", "leave(False)", _("To the list"), show=False, id="search.to_list",
                tooltip=_("Go to the list, keeping the search")),
    ]

    class Settled(Message):
        """The search text after typing paused."""

        def __init__(self, search_bar: SearchBar, text: str) -> None:
            super().__init__()
            self.search_bar = search_bar
            self.text = text

        @property
        def control(self) -> SearchBar:
            return self.search_bar

    class Left(Message):
        """Focus should go back to the list."""

        def __init__(self, search_bar: SearchBar) -> None:
            super().__init__()
            self.search_bar = search_bar

        @property
        def control(self) -> SearchBar:
            return self.search_bar

    def __init__(self, *, id: str | None = None, debounce: float = DEBOUNCE_SECONDS) -> None:
        super().__init__(
            placeholder=_("/ search: name, company, phone, email, pinyin (zw → 张伟)"),
            id=id,
            select_on_focus=False,
        )
        self.debounce = debounce
        self._timer: Timer | None = None

    def on_mount(self) -> None:
        self.cursor_blink = getattr(self.app, "cursor_blink", True)

    def _on_input_changed(self, event: Input.Changed) -> None:
        if event.input is not self:
            return
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.debounce, self._settle)

    def _settle(self) -> None:
        self._timer = None
        self.post_message(self.Settled(self, self.value))

    def _on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Left(self))

    def action_leave(self, clear: bool) -> None:
        if clear and self.value:
            self.value = ""
            return
        self.post_message(self.Left(self))
