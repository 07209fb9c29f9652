"""Value badges: established and potential value, RFM segment, tier and the completeness bar.

The figures come from the store (``Portrait.value``); the drawing is ``render.value_text``, the
same one ``crm show`` prints.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from crm_tui.present.portrait import value_text


class ValueBadges(Static):
    """One customer's value at a glance."""

    DEFAULT_CSS = """
    ValueBadges { height: auto; padding: 0 1; }
    """

    def show_value(self, value: Any) -> None:
        """Draw ``value`` (a ``records.Value``)."""
        self.value = value
        self.update(value_text(value))
