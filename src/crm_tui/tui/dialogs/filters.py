"""The list's filters as a dialog: status, tier, tag, source, region and "due"."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select

from crm_tui.i18n import _


class FilterScreen(ModalScreen[dict[str, Any] | None]):
    """Dismisses with the chosen filters (None when cancelled)."""


    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", _("Cancel"), id="filters.cancel", tooltip=_("Close, changing nothing")),
        Binding("ctrl+s", "apply", _("Apply"), id="filters.apply", tooltip=_("Apply these filters")),
    ]

    def __init__(self, current: dict[str, Any]) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        from crm_tui.store.domain import STATUSES, TIERS

        with Vertical():
            with Grid():
                yield Label(_("Status"))
                yield Select([(s, s) for s in STATUSES], value=self.current.get("status") or Select.NULL,
                             prompt=_("any"), id="filter-status")
                yield Label(_("Tier"))
                yield Select([(t, t) for t in TIERS], value=self.current.get("tier") or Select.NULL,
                             prompt=_("any"), id="filter-tier")
                for name, title in (("tag", _("Tag")), ("source", _("Source")), ("region", _("Region"))):
                    yield Label(title)
                    yield Input(self.current.get(name) or "", placeholder=_("any"), id=f"filter-{name}")
            yield Checkbox(_("Only due or overdue follow-ups"), bool(self.current.get("due")), id="filter-due")
            with Horizontal():
                yield Button(_("Clear"), id="clear")
                yield Button(_("Cancel"), id="cancel")
                yield Button(_("Apply"), id="apply", variant="primary")

    def chosen(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in ("status", "tier"):
            value = self.query_one(f"#filter-{name}", Select).value
            values[name] = None if value == Select.NULL else value
        for name in ("tag", "source", "region"):
            values[name] = self.query_one(f"#filter-{name}", Input).value.strip() or None
        values["due"] = self.query_one("#filter-due", Checkbox).value
        return values

    @on(Button.Pressed, "#apply")
    @on(Input.Submitted)
    def action_apply(self) -> None:
        self.dismiss(self.chosen())

    @on(Button.Pressed, "#clear")
    def _clear(self) -> None:
        self.dismiss({"status": None, "tier": None, "tag": None, "source": None, "region": None,
                      "due": False})

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
