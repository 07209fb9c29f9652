"""The store's clock: injectable so tests fix "now" and relative dates stay stable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta


class Clock:
    """Gives aware UTC timestamps for storage and local calendar dates for due dates."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        """The current time, aware, in UTC (how timestamps are stored)."""
        current = self._now()
        if current.tzinfo is None:
            return current.replace(tzinfo=UTC)
        return current.astimezone(UTC)

    def local_now(self) -> datetime:
        current = self._now()
        if current.tzinfo is None:
            current = current.replace(tzinfo=UTC)
        return current.astimezone()

    def today(self) -> date:
        """Today in the local calendar."""
        return self.local_now().date()

    def day_start_utc(self, day: date | None = None) -> datetime:
        """The instant (aware, UTC) the local calendar ``day`` (default today) began."""
        day = day or self.today()
        return datetime(day.year, day.month, day.day).astimezone().astimezone(UTC)


class FixedClock(Clock):
    """A clock standing still at ``at`` (naive values are taken as UTC); ``advance`` moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at if at.tzinfo else at.replace(tzinfo=UTC)
        super().__init__(lambda: self.at)

    def advance(self, **delta: float) -> None:
        self.at = self.at + timedelta(**delta)
