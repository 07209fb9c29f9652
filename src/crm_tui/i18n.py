"""The one translation function every user-visible string goes through.

A zh_CN catalogue can be dropped into ``crm_tui/locale/zh_CN/LC_MESSAGES/crm_tui.mo``
without touching any screen; until then ``_`` returns the English text.
"""

from __future__ import annotations

import gettext
from pathlib import Path

_LOCALE_DIR = Path(__file__).parent / "locale"
_translation = gettext.translation("crm_tui", localedir=_LOCALE_DIR, fallback=True)


def _(message: str) -> str:
    """Translate ``message`` into the user's language (English when no catalogue exists)."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for ``n`` things ("1 day", "2 days"), in the user's language."""
    return _translation.ngettext(singular, plural, n)
