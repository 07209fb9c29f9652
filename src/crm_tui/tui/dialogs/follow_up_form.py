"""Log a follow-up: channel, summary, and the next date (quick choices or typed)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select

from crm_tui.i18n import _
from crm_tui.present.textsafe import printable
from crm_tui.tui.dialogs.form import FormDialog

if TYPE_CHECKING:
    from crm_tui.store.records import FollowUpRecord

QUICK_NEXT = (("+1d", 1), ("+3d", 3), ("+1w", 7), ("+2w", 14))
"""The quick choices for the next follow-up: label and days from today."""


class FollowUpFormScreen(FormDialog["FollowUpRecord"]):
    """Log a follow-up for one customer; dismisses with what the store logged."""

    FORM_FIELDS = (
        ("channel", _("Channel")),
        ("summary", _("Summary")),
        ("next", _("Next")),
    )
    FIRST_FIELD = "summary"

    def __init__(self, customer_id: int, customer_name: str, today: date) -> None:
        super().__init__({"channel": "call"})
        self.customer_id = customer_id
        self.customer_name = customer_name
        self.today = today

    def form_title(self) -> str:
        return _("Log a follow-up: {name}").format(name=printable(self.customer_name))

    def field_widget(self, key: str) -> Widget:
        if key == "channel":
            from crm_tui.store.domain import CHANNELS

            return Select([(_(c), c) for c in CHANNELS], value="call", allow_blank=False,
                          id="field-channel")
        if key == "next":
            return Input(placeholder=_("YYYY-MM-DD or +3d; empty clears the planned follow-up"),
                         id="field-next")
        return super().field_widget(key)

    def compose_after_fields(self) -> ComposeResult:
        with Horizontal(id="quick-next"):
            yield Label(_("Next in:"))
            for label, _days in QUICK_NEXT:
                yield Button(label, id=f"next-{label.strip('+')}", compact=True)
            yield Button(_("none"), id="next-none", compact=True)

    @on(Button.Pressed, "#quick-next Button")
    def _quick_next(self, event: Button.Pressed) -> None:
        event.stop()
        days = {label.strip("+"): n for label, n in QUICK_NEXT}.get(
            (event.button.id or "").removeprefix("next-"))
        value = "" if days is None else (self.today + timedelta(days=days)).isoformat()
        self.set_field("next", value)

    def submit(self, submission: dict[str, Any]) -> FollowUpRecord:
        return self.store.log_follow_up(self.me, self.customer_id, submission["summary"],
                                        channel=submission["channel"],
                                        next_at=submission["next"] or None)
