"""The follow-up timeline of one customer, newest first.

One ``Static`` holding Rich text rather than a widget per entry: a customer with 1,000
follow-ups would otherwise mount 1,000 widgets. The portrait asks the store for a window of the
newest entries and says how many older ones there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.widgets import Static

from crm_tui.present.portrait import timeline_text


class Timeline(Static):
    """Follow-ups: when, channel, rep, next date, and the summary as typed."""

    DEFAULT_CSS = """
    Timeline { height: auto; padding: 0 1; }
    """

    def show_follow_ups(self, follow_ups: Sequence[Any], more: int = 0) -> None:
        """Draw ``follow_ups`` (newest first); ``more`` older ones are only counted."""
        self.follow_ups = list(follow_ups)
        self.more = more
        self.update(timeline_text(self.follow_ups, more))
