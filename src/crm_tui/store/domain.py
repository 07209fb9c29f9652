"""The domain's fixed vocabularies (DESIGN §3), importable without any database library.

Each value is stored in its canonical English form; the ``*_WORDS`` maps give the other words a
person or a spreadsheet uses for it (意向 for ``intent``, 个人 for ``person``, A类 for ``A``).
``validate`` reads them, so every write path (``crm add``/``crm edit``, the forms, ``crm import``)
understands the same words.
"""

from __future__ import annotations

from decimal import Decimal

ROLES = ("rep", "manager", "admin")
CUSTOMER_KINDS = ("company", "person")
STATUSES = ("lead", "intent", "deal", "lost")
TIERS = ("A", "B", "C")
CHANNELS = ("call", "visit", "wechat", "email", "meeting", "other")
STAGES = ("prospecting", "qualified", "proposal", "negotiation", "won", "lost")
OPEN_STAGES = ("prospecting", "qualified", "proposal", "negotiation")
STAGE_PROBABILITY = {
    "prospecting": Decimal("0.10"),
    "qualified": Decimal("0.25"),
    "proposal": Decimal("0.50"),
    "negotiation": Decimal("0.75"),
    "won": Decimal("1"),
    "lost": Decimal("0"),
}
OWNERSHIP_KINDS = ("created", "claimed", "released", "recycled", "transferred", "assigned")

# Other words for a value, each mapped to the canonical one. Keys are compared as typed and
# case-folded (``validate.choice``), so English synonyms are written in lower case.
STATUS_WORDS: dict[str, str] = {
    "线索": "lead", "潜在": "lead", "潜在客户": "lead", "新客户": "lead",
    "意向": "intent", "有意向": "intent", "意向客户": "intent",
    "成交": "deal", "已成交": "deal", "成交客户": "deal", "签约": "deal", "已签约": "deal",
    "流失": "lost", "已流失": "lost", "无效": "lost",
}
KIND_WORDS: dict[str, str] = {
    "公司": "company", "企业": "company", "单位": "company", "机构": "company",
    "business": "company", "organization": "company", "organisation": "company",
    "个人": "person", "individual": "person", "personal": "person",
}
# A类 and A级 (and their lower-case Latin forms, which ``validate.tier`` folds) are tier A.
TIER_WORDS: dict[str, str] = {f"{tier}{suffix}": tier for tier in TIERS for suffix in "类级"}
