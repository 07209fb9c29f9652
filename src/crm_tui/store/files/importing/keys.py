"""The keys that make two names one customer for the importer, beyond the store's ``name_key``.

A name without its legal form (华为技术有限公司 and 华为技术公司; Acme Ltd and Acme Inc) is a
*core*; the names of one company are compared fuzzily within a block keyed by the company.
"""

from __future__ import annotations

import re
import unicodedata

from crm_tui.store import validate

_WORD = re.compile(r"\w+", re.UNICODE)
_LEGAL_WORDS = ("co", "company", "ltd", "limited", "inc", "incorporated", "corp", "corporation",
                "llc", "plc", "gmbh", "ag", "sa", "pte", "pty", "llp", "group")
_LEGAL_CJK = ("股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "集团", "公司")


def core_key(name: str) -> str:
    """A name without its legal form (Ltd, Inc, 有限公司, ...): the key for look-alikes."""
    normal = unicodedata.normalize("NFKC", name).casefold()
    words = _WORD.findall(normal)
    while len(words) > 1 and words[-1] in _LEGAL_WORDS:
        words.pop()
    joined = "".join(words).replace("_", "")
    changed = True
    while changed:
        changed = False
        for suffix in _LEGAL_CJK:
            if joined.endswith(suffix) and len(joined) > len(suffix) + 1:
                joined = joined[: -len(suffix)]
                changed = True
    return joined[:200]


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
