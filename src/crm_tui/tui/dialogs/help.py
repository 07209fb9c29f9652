"""``?``: every key that works where you are, read from the live bindings (so remaps show)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.events import Click
from textual.screen import ModalScreen
from textual.widgets import Static

from crm_tui.i18n import _

if TYPE_CHECKING:
    from textual.screen import Screen


SCROLL_ACTIONS = {"scroll_left", "scroll_right", "page_left", "page_right"}
"""Inherited from ScrollView, meaningless in a table with no horizontal scroll."""


@dataclass(frozen=True)
class KeyHelp:
    keys: str
    description: str
    tooltip: str
    where: str


def keys_of(screen: Screen) -> list[KeyHelp]:
    """The bindings active on ``screen`` (focused widget, screen, app), keys of one action joined."""
    app = screen.app
    grouped: dict[tuple[int, str], KeyHelp] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or binding.action in SCROLL_ACTIONS:
            continue
        node = active.node
        if node is app:
            where = _("everywhere")
        elif node is screen:
            where = _("this screen")
        else:
            where = getattr(node, "HELP_NAME", type(node).__name__)
        group = (id(node), binding.action)
        shown = app.get_key_display(binding) if binding.key == key else app.get_key_display(
            Binding(key, binding.action)
        )
        if group in grouped:
            previous = grouped[group]
            if shown not in previous.keys.split(" / "):
                grouped[group] = KeyHelp(f"{previous.keys} / {shown}", previous.description,
                                         previous.tooltip, where)
        else:
            grouped[group] = KeyHelp(shown, binding.description, active.tooltip or binding.tooltip, where)
    return list(grouped.values())


class HelpScreen(ModalScreen[None]):
    """A table of every key; Esc, ``?`` or a click closes it."""


    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", _("Close"), id="help.close",
                tooltip=_("Close the help")),
    ]

    def __init__(self, keys: list[KeyHelp]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_edge=False, pad_edge=False)
        table.add_column(_("Key"), style="bold", no_wrap=True, min_width=14)
        table.add_column(_("Does"), no_wrap=True)
        table.add_column(_("Where"), style="dim", no_wrap=True)
        extra = [KeyHelp("esc", _("Back; in the search box: clear it, then leave it"), "",
                         _("everywhere")),
                 KeyHelp(_("click a title"), _("Sort by that column (again: reverse)"), "",
                         _("the table"))]
        for key in [*self.keys, *extra]:
            table.add_row(Text(key.keys), Text(key.tooltip or key.description), Text(key.where))
        with VerticalScroll() as frame:
            frame.border_title = _("Keys")
            yield Static(table)

    @on(Click)
    def _close_on_click(self) -> None:
        self.dismiss(None)
