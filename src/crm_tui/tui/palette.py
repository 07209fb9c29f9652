"""Command palette providers: ``customer: Open 张伟`` and ``view: …`` entries.

Customers come from the store's search (name, pinyin, initials, phone, email), run in a thread
so typing in the palette never waits on the database.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape

from crm_tui.i18n import _
from crm_tui.present.textsafe import printable

if TYPE_CHECKING:
    from crm_tui.tui.app import CrmApp

PALETTE_LIMIT = 20


class CustomerCommands(Provider):
    """Jump to any customer you may see by name, pinyin, initials or phone."""

    @property
    def crm(self) -> CrmApp:
        return cast("CrmApp", self.app)

    async def search(self, query: str) -> Hits:
        app = self.crm
        if app.store is None or app.me is None or not query.strip():
            return
        found = await asyncio.to_thread(
            app.store.find, app.me, query, scope="all", limit=PALETTE_LIMIT
        )
        matcher = self.matcher(query)
        for rank, customer in enumerate(found):
            name = printable(customer.name)
            title = _("customer: Open {name}").format(name=name)
            # The store ranks pinyin and phone matches the matcher cannot see: keep its order.
            score = max(matcher.match(title), 1.0 - rank / (PALETTE_LIMIT + 1))
            # Hit help is markup: user text is escaped so it shows literally.
            details = " · ".join(
                escape(printable(part))
                for part in (customer.company, customer.phone, customer.owner) if part
            )
            yield Hit(
                score,
                matcher.highlight(title),
                partial(app.open_customer, customer.id),
                text=title,
                help=details or None,
            )


class ViewCommands(Provider):
    """Switch screens: ``view: Customers`` and the others."""

    def _views(self) -> list[tuple[str, str, str]]:
        return [
            ("customers", _("view: Customers"), _("My private sea and every customer I may see (1)")),
            ("due", _("view: Due today"), _("Follow-ups due or overdue, the follow-up log (2)")),
            ("open_sea", _("view: Open sea"), _("Customers without an owner (3)")),
            ("dashboard", _("view: Dashboard"), _("The team at a glance (4)")),
            ("help", _("view: Keys"), _("Every key (?)")),
            ("import", _("data: Import…"), _("Customers from a CSV or XLSX file")),
        ]

    def _command(self, mode: str) -> None:
        crm = cast("CrmApp", self.app)
        if mode == "help":
            crm.action_help()
        elif mode == "import":
            from crm_tui.tui.screens.import_screen import ImportScreen

            if crm.store is None or crm.me is None:
                crm.notify(_("The database is still opening; try again in a moment."),
                           markup=False)
                return
            crm.push_screen(ImportScreen(crm.store, crm.me, path=""))
        else:
            crm.switch_mode(mode)

    async def discover(self) -> Hits:
        for mode, title, help_text in self._views():
            yield DiscoveryHit(title, partial(self._command, mode), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for mode, title, help_text in self._views():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._command, mode), help=help_text)
