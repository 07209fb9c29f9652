"""Name keys the importer keeps on each row. The duplicate rule itself, and ``core_key`` (a name
without its legal form: 华为技术有限公司 and 华为技术公司; Acme Ltd and Acme Inc), live in
``customers/duplicates.py``: one definition for the store, the importer and ``crm duplicates``.
"""

from __future__ import annotations

import re

from crm_tui.store import validate
from crm_tui.store.customers.duplicates import core_key

__all__ = ["company_key", "core_key", "core_variants"]

_LEGAL_CJK = ("股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "集团", "公司")


def core_variants(core: str) -> list[str]:
    """name_key values that share ``core``: the core itself and it with each legal form."""
    if not core:
        return []
    if re.search(r"[\u3400-\u9fff]", core):
        return [core] + [core + suffix for suffix in _LEGAL_CJK]
    forms = ("ltd", "limited", "inc", "corp", "corporation", "llc", "plc", "gmbh", "coltd",
             "companylimited", "co", "company", "group")
    return [core] + [core + form for form in forms]


def company_key(company: str | None) -> str | None:
    """The key of a company's fuzzy block (its ``name_key``), or None without a company."""
    if not company:
        return None
    key = validate.name_key(company)
    return key or None
