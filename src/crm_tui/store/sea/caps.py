"""The private sea's cap (DESIGN §4 ``private_cap``): one check for adding and claiming."""

from __future__ import annotations

from sqlalchemy import Connection

from crm_tui.store.customers.visibility import Visibility
from crm_tui.store.errors import RuleRefused
from crm_tui.store.schema.tables import customer as customer_t


def check_private_cap(owned: int, cap: int, adding: int = 1) -> None:
    """Refuse when ``adding`` more customers would take a rep who owns ``owned`` past ``cap``
    (0: no cap). Callers hold the rep's lock (``_lock_rep``), so ``owned`` is what is committed."""
    if cap > 0 and owned + adding > cap:
        raise RuleRefused(
            "private_cap",
            f"Your private sea is full: {owned} of {cap} customers (rule private_cap).",
        )


class Caps(Visibility):
    """The cap check for callers that have not counted the rep's customers yet."""

    def _check_private_cap(self, conn: Connection, rep_id: int, adding: int = 1) -> None:
        """Refuse when ``adding`` more customers would take rep ``rep_id`` past ``private_cap``."""
        cap = int(self.rule(conn, "private_cap"))
        if cap > 0:
            check_private_cap(self._count(conn, customer_t.c.owner_id == rep_id), cap, adding)
