"""The domain's fixed vocabularies (DESIGN §3), importable without any database library.

Each value is stored in its canonical English form; the ``*_WORDS`` maps give the other words a
person or a spreadsheet uses for it (意向 for ``intent``, 个人 for ``person``, A类 for ``A``).
``validate`` reads them, so every write path (``crm add``/``crm edit``, the forms, ``crm import``)
understands the same words.
"""

from __future__ import annotations

import re
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


# Words that make a name a company's (a default for the forms' Kind; the user may change it).
COMPANY_NAME_WORDS = (
    "公司", "集团", "科技", "有限", "股份", "企业", "工厂", "厂", "商行", "商店", "中心", "事务所",
    "研究院", "银行", "医院", "学校", "大学", "协会", "工作室", "控股", "实业", "贸易", "物流",
)
COMPANY_NAME_TOKENS = frozenset({
    "ltd", "inc", "llc", "llp", "plc", "gmbh", "ag", "sa", "bv", "co", "corp", "corporation",
    "company", "limited", "group", "holdings", "partners", "studio", "bank", "university",
    "technologies", "technology", "systems", "solutions", "imports", "sons", "capital",
})
COMPOUND_SURNAMES = (
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文",
    "司徒", "夏侯", "令狐", "端木", "独孤", "南宫", "西门", "轩辕", "呼延", "澹台", "公冶",
)
_CJK_NAME = re.compile(r"[\u3400-\u9fff]{2,4}")
_LATIN_WORD = re.compile(r"[A-Z][a-z'\-]+")


def guess_kind(name: str) -> str:
    """``person`` or ``company``, guessed from a customer's name: the forms' default Kind.

    A company word (公司, 集团, 科技, Ltd, Inc, …) makes it a company; two or three Chinese
    characters without one (张三丰, 李明), four when they start with a compound surname
    (欧阳娜娜; 字节跳动 stays a company), or two or three capitalised Latin words (Alice
    Martin), a person; anything else a company (the kind most customers are).
    """
    text = (name or "").strip()
    if not text:
        return "company"
    if any(word in text for word in COMPANY_NAME_WORDS):
        return "company"
    tokens = re.findall(r"[A-Za-z]+", text)
    if any(token.lower() in COMPANY_NAME_TOKENS for token in tokens):
        return "company"
    if _CJK_NAME.fullmatch(text) and (len(text) < 4 or text.startswith(COMPOUND_SURNAMES)):
        return "person"
    words = text.split()
    if 2 <= len(words) <= 3 and all(_LATIN_WORD.fullmatch(word) for word in words):
        return "person"
    return "company"
