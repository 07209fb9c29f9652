"""``crm init --demo N``: realistic demo data, written in bulk (DESIGN §3, §4, §9).

Chinese and Latin people and companies, contacts, a year of follow-ups, deals in every stage,
tags, about a third of the customers in the open sea and the rest spread over demo reps and the
acting admin, with ownership events that tell the same story as the owner fields.

Speed (1,000,000 customers in ≤ 120 s on SQLite): names come from pools whose search tokens are
computed once; rows go in with the driver's ``executemany`` (SQLite) or ``COPY`` (PostgreSQL)
in large transactions; the search index is dropped during the load and rebuilt once at the end.
Everything is drawn from one seeded ``random.Random``, so a seed gives the same data.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import func, insert, select

from crm_tui.store import validate
from crm_tui.store.db.base import StoreBase, customer_t, rep_t, tag_t
from crm_tui.store.records import Actor
from crm_tui.store.search import index_ddl as search_sql
from crm_tui.store.search.tokens import (
    email_tokens,
    full_pinyin,
    join_tokens,
    phone_tokens,
    text_tokens,
)
from crm_tui.store.team.settings import DEFAULT_RELEASE_REASONS

Progress = Callable[[int, int], None]

CHUNK = 20_000
WORKER_FROM = 50_000  # loads this big draw their rows in a second process
POOL_SHARE = 0.34
ADMIN_SHARE = 0.03
ADMIN_MAX = 150  # below the default private_cap (200)

# --- vocabulary ---------------------------------------------------------------------------------

CN_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "单解仇区查盖乐朴"
)
CN_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国红志文辉鹏飞宇浩然欣怡子涵梓轩晨雨思佳"
    "博文雪梅海燕俊杰晓东春晖凯丹宁琳颖慧婷倩雯瑶嘉鑫彤蕾洁琪斌亮健成龙峰波晶瑞昊天翔"
)
LATIN_FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Emma", "Olivia", "Noah", "Liam", "Sophia", "Lucas", "Mia", "Hugo", "Chloe", "Léa", "Zoë", "Jürgen", "Søren", "Ana", "María", "José", "Pierre", "Marie", "Hans", "Greta", "Luca", "Giulia", "Kenji", "Yuki", "Priya", "Arjun", "Fatima", "Omar", "Ivan", "Olga", "Chen", "Wei"]
LATIN_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Müller", "Schmidt", "Dubois", "Lefèvre", "Rossi", "Bianchi", "Tanaka", "Sato", "Kowalski", "Novak", "Andersson", "Nielsen", "O'Brien", "McCarthy", "Nguyen", "Kim", "Park", "Patel", "Singh", "Silva", "Santos", "Fernández", "Ivanov", "Wong", "Chan", "Lam"]
LATIN_MIDDLE = ("",) * 4 + tuple(f"{letter}. " for letter in "ABCDEFGHJKLMNPRSTW")
CN_BRANDS = ["恒信", "华泰", "金达", "鼎盛", "宏远", "瑞丰", "嘉禾", "博远", "天成", "中科", "新域", "汇通", "永安", "长城", "东方", "星辰", "云帆", "海纳", "锦程", "卓越", "荣华", "盛世", "同创", "德润", "启明", "万象", "凯旋", "正大", "安和", "百川", "明德", "兴业", "丰源", "华强", "立信", "创维", "远航", "腾达", "众合", "九州", "蓝海", "优品", "智联", "晨光", "合众", "宝丰", "伟业", "广厦", "信达", "泰和", "鸿运"]
CN_INDUSTRY_WORDS = ["科技", "贸易", "实业", "物流", "电子", "建设", "医药", "食品", "教育", "咨询", "信息技术", "机械", "化工", "文化传媒", "餐饮管理", "服饰", "环保", "能源", "网络", "软件", "家居", "汽车服务", "供应链", "生物"]
CN_COMPANY_SUFFIXES = ("有限公司", "股份有限公司", "集团", "工作室", "有限责任公司", "商行")
LATIN_BRANDS = ["Northwind", "Contoso", "Fabrikam", "Globex", "Initech", "Umbrella", "Acme", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Soylent", "Hooli", "Vandelay", "Wonka", "Oceanic", "Pied", "Piper", "Blue", "Harbor", "Silver", "Peak", "Red", "Rock", "Evergreen", "Golden", "Gate", "Maple", "Leaf", "Lakeside", "Summit", "Horizon", "Pioneer", "Atlas", "Nova", "Zenith", "Aurora", "Polaris", "Crestview", "Ironwood", "Brightside", "Clearwater", "Highland", "Riverside", "Sterling", "Trident"]
LATIN_INDUSTRY_WORDS = ["Logistics", "Trading", "Software", "Foods", "Pharma", "Consulting", "Media", "Energy", "Motors", "Textiles", "Robotics", "Analytics", "Retail", "Capital", "Labs", "Systems", "Design", "Hospitality", "Biotech", "Packaging"]
LATIN_COMPANY_SUFFIXES = ("Ltd", "Inc.", "GmbH", "S.A.", "LLC", "Pte. Ltd.", "Co.", "AG", "B.V.")

INDUSTRIES = (
    "制造业", "零售", "互联网", "教育", "医疗健康", "金融", "房地产", "物流", "餐饮", "能源",
    "Manufacturing", "Software", "Retail", "Healthcare", "Finance", "Logistics",
)
CN_CITIES = (
    "北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "重庆", "天津", "苏州",
    "长沙", "郑州", "青岛", "厦门", "沈阳", "大连", "合肥", "昆明", "福州", "济南", "宁波", "无锡",
    "哈尔滨", "乌鲁木齐", "拉萨", "香港", "台北",
)
INTL_CITIES = ("Singapore", "Tokyo", "Seoul", "London", "Berlin", "Paris", "New York",
               "San Francisco", "Sydney", "Dubai", "Kuala Lumpur", "Bangkok")
DISTRICTS = ("朝阳区", "海淀区", "浦东新区", "天河区", "南山区", "西湖区", "武侯区", "江汉区",
             "鼓楼区", "高新区", "经开区")
ROADS = ("中山路", "人民路", "解放路", "建设路", "和平路", "长江路", "科技园路", "滨江大道")
SOURCES = ("展会", "官网", "转介绍", "电话营销", "微信", "抖音", "百度推广", "老客户",
           "trade show", "website", "referral", "cold call", "LinkedIn", "partner")
TITLES = ("总经理", "采购经理", "财务总监", "技术总监", "行政主管", "老板", "CEO", "CTO",
          "Purchasing Manager", "Office Manager", "Head of IT", "Founder")
TAGS = ("VIP", "重点客户", "回款慢", "价格敏感", "决策人已见", "需报价", "老客户转介绍",
        "big account", "needs demo", "partner", "slow payer", "follow up in person")
SUMMARIES = (
    "电话沟通，客户对产品感兴趣，需要报价", "拜访客户，演示了新版本", "微信跟进，客户在比较竞品",
    "客户要求下周再联系", "发送了合同草稿", "客户预算还没批下来", "约了下周三上门拜访",
    "客户反馈价格偏高，申请折扣中", "已寄样品，等待试用反馈", "客户暂时没有需求",
    "Called, wants a quote", "Sent the proposal by email", "Demo went well, follow up next week",
    "Met the purchasing manager on site", "No answer, try again", "Asked for references",
    "Negotiating the payment terms", "Budget approved for next quarter",
)
CHANNELS = ("call", "call", "call", "wechat", "wechat", "visit", "email", "meeting", "other")
DEAL_TITLES = ("年度采购", "设备升级", "软件许可", "维保合同", "试点项目", "二期扩容",
               "Annual licence", "Pilot project", "Support contract", "Fleet upgrade")
OPEN_STAGES = ("prospecting", "qualified", "proposal", "negotiation")
EMAIL_DOMAINS = ("qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "example.com",
                 "sina.com", "foxmail.com", "example.org")
CN_MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
                      "152", "153", "155", "156", "157", "158", "159", "166", "173", "175", "176",
                      "177", "178", "180", "181", "182", "183", "185", "186", "187", "188", "189",
                      "191", "198", "199")
CN_LANDLINES = ("+8610", "+8621", "+8620", "+86755", "+86571", "+8628")
FOREIGN_PHONES = (("+14155550", 3), ("+12125550", 3), ("+44207946", 4), ("+852612", 5),
                  ("+6591", 6), ("+493012", 6), ("+81312", 6))

DEMO_TEAMS = ("east", "north", "south")
DEMO_REPS = (
    ("demo.wangfang", "王芳"), ("demo.lijun", "李军"), ("demo.zhangmin", "张敏"),
    ("demo.liuyang", "刘洋"), ("demo.chenjing", "陈静"), ("demo.yangtao", "杨涛"),
    ("demo.huangli", "黄丽"), ("demo.zhaolei", "赵磊"), ("demo.wujie", "吴杰"),
    ("demo.zhouyan", "周艳"), ("demo.xuqiang", "徐强"), ("demo.sunna", "孙娜"),
    ("demo.zengwei", "曾伟"), ("demo.shanyu", "单宇"), ("demo.xieming", "解明"),
    ("demo.qiuhong", "仇红"), ("demo.ouying", "区颖"), ("demo.guoxin", "郭鑫"),
    ("demo.hemei", "何梅"), ("demo.linfeng", "林峰"), ("demo.luobin", "罗斌"),
    ("demo.zhenghao", "郑浩"), ("demo.songjia", "宋佳"), ("demo.tangning", "唐宁"),
    ("demo.alice", "Alice Martin"), ("demo.bob", "Bob Nguyen"), ("demo.carol", "Carol Smith"),
    ("demo.dave", "Dave Müller"), ("demo.erin", "Erin O'Brien"), ("demo.frank", "Frank Rossi"),
    ("demo.grace", "Grace Tanaka"), ("demo.heidi", "Heidi Andersson"),
)
DEMO_MANAGERS = (
    ("demo.mgr.east", "钱东", "east"), ("demo.mgr.north", "Nora Walker", "north"),
    ("demo.mgr.south", "孔南", "south"),
)

CUSTOMER_COLUMNS = (
    "id", "name", "kind", "company", "industry", "region", "address", "phone", "email", "source",
    "status", "tier", "notes", "extra", "owner_id", "claimed_at", "last_follow_up_at",
    "next_follow_up_at", "pool_entered_at", "released_by_id", "release_reason", "locked",
    "search_text", "name_key", "created_at", "updated_at", "updated_by_id", "version",
)
CONTACT_COLUMNS = ("customer_id", "name", "title", "phone", "email", "wechat", "is_primary")
FOLLOW_UP_COLUMNS = ("customer_id", "rep_id", "at", "channel", "summary", "next_at")
DEAL_COLUMNS = ("customer_id", "owner_id", "title", "amount", "stage", "expected_close",
                "closed_at", "created_at", "updated_at")
OWNERSHIP_COLUMNS = ("customer_id", "kind", "actor_id", "from_rep_id", "to_rep_id", "reason", "at")
TAG_COLUMNS = ("customer_id", "tag_id")

BULK_TABLES = ("customer", "contact", "follow_up", "deal", "ownership_event", "customer_tag")

MINUTES_PER_DAY = 1440

# Won revenue: a customer with a won deal has one, from the high band for a fifth of them.
HIGH_BAND = (500_000, 5_000_000)
LOW_BAND = (20_000, 500_000)
HIGH_ODDS = 0.2


def revenue_cut(share: float) -> float:
    """The amount above which the demo's won deals make ``share`` of its revenue (expected).

    The tier rule (``store/analytics.py``: A up to 80 % of revenue, B to 95 %, C the rest, none
    without revenue) ranks the whole book, so a generator drawing chunk by chunk cannot know it;
    but with a million customers the drawn revenue follows the bands closely, so a tier given by
    these cuts is the rule's for all but the few customers near a cut, and the refresh at the
    end of the load (``generate_demo``) writes only those. Solved by bisection on the expected
    revenue above ``t``: each band contributes odds × ∫ x dx / (hi − lo) over [max(t, lo), hi].
    """

    def above(t: float) -> float:
        total = 0.0
        for odds, (low, high) in ((HIGH_ODDS, HIGH_BAND), (1 - HIGH_ODDS, LOW_BAND)):
            start = min(max(t, low), high)
            total += odds * (high * high - start * start) / (2 * (high - low))
        return total

    goal = share * above(0.0)
    low, high = 0.0, float(HIGH_BAND[1])
    for _ in range(60):
        middle = (low + high) / 2
        if above(middle) > goal:
            low = middle
        else:
            high = middle
    return high


# --- names and their tokens -------------------------------------------------------------------


class _Named:
    """A pooled name with its tokens, key and an email local part, computed once."""

    __slots__ = ("name", "tokens", "key", "local")

    def __init__(self, name: str, *, is_name: bool, local: str) -> None:
        self.name = name
        self.tokens = tuple(text_tokens(name, is_name=is_name))
        self.key = validate.name_key(name)
        self.local = local


def _name_pools(rng: random.Random, n: int) -> tuple[list[_Named], list[_Named], list[_Named]]:
    """Pools of person names, company names and contact names, sized to stay mostly distinct."""
    people: dict[str, _Named] = {}
    surnames = CN_SURNAMES
    while len(people) < max(200, min(n, 100_000)):
        if rng.random() < 0.8:
            surname = rng.choice(surnames)
            given = rng.choice(CN_GIVEN) + (rng.choice(CN_GIVEN) if rng.random() < 0.7 else "")
            name = surname + given
            local = full_pinyin(name)
        else:
            first, last = rng.choice(LATIN_FIRST), rng.choice(LATIN_LAST)
            middle = rng.choice(LATIN_MIDDLE)
            name = f"{first} {middle}{last}"
            local = validate.name_key(f"{first}.{last}").encode("ascii", "ignore").decode()
        if name not in people:
            people[name] = _Named(name, is_name=True, local=local or "contact")
    companies: dict[str, _Named] = {}
    while len(companies) < max(200, min(n // 2, 50_000)):
        if rng.random() < 0.75:
            city = rng.choice(CN_CITIES)
            brand = rng.choice(CN_BRANDS)
            name = f"{city}{brand}{rng.choice(CN_INDUSTRY_WORDS)}{rng.choice(CN_COMPANY_SUFFIXES)}"
            local = full_pinyin(brand)
        else:
            brand = rng.choice(LATIN_BRANDS)
            name = f"{brand} {rng.choice(LATIN_INDUSTRY_WORDS)} {rng.choice(LATIN_COMPANY_SUFFIXES)}"
            local = brand.lower()
        if name not in companies:
            companies[name] = _Named(name, is_name=False, local=local or "info")
    people_list = list(people.values())
    return people_list, list(companies.values()), people_list


# --- the generator ------------------------------------------------------------------------------


class _Clock:
    """Formats minutes before ``now`` and days from today as the backend stores them."""

    def __init__(self, now: datetime, today: date, sqlite: bool) -> None:
        self.now = now.replace(second=0, microsecond=0)
        self.today = today
        self.suffix = ".000000" if sqlite else "+00"
        # Per-instance caches: a year has 525,600 minutes, far fewer than the rows that use them.
        self.ts = cache(self._ts)  # type: ignore[method-assign]
        self.day = cache(self._day)  # type: ignore[method-assign]
        self.day_of = cache(self._day_of)  # type: ignore[method-assign]

    def _ts(self, minutes_ago: int) -> str:
        when = self.now - timedelta(minutes=minutes_ago)
        return when.strftime("%Y-%m-%d %H:%M:%S") + self.suffix

    def _day(self, offset: int) -> str:
        return (self.today + timedelta(days=offset)).isoformat()

    def _day_of(self, minutes_ago: int) -> int:
        """The local calendar day of a timestamp ``minutes_ago``, as an offset from today."""
        when = (self.now - timedelta(minutes=minutes_ago)).astimezone()
        return (when.date() - self.today).days


class _Batch:
    """The rows of one chunk, per table."""

    def __init__(self) -> None:
        self.customers: list[tuple[Any, ...]] = []
        self.contacts: list[tuple[Any, ...]] = []
        self.follow_ups: list[tuple[Any, ...]] = []
        self.deals: list[tuple[Any, ...]] = []
        self.ownership: list[tuple[Any, ...]] = []
        self.tags: list[tuple[Any, ...]] = []


class DemoGenerator:
    """Draws demo customers chunk by chunk; the writer decides how rows reach the database."""

    def __init__(self, *, seed: int, n: int, now: datetime, today: date, sqlite: bool,
                 admin_id: int, rep_ids: Sequence[int], tag_ids: Sequence[int],
                 first_id: int) -> None:
        self.rng = random.Random(seed)
        self.n = n
        self.clock = _Clock(now, today, sqlite)
        self.sqlite = sqlite
        self.admin_id = admin_id
        self.rep_ids = list(rep_ids)
        self.tag_ids = list(tag_ids)
        self.next_id = first_id
        self.people, self.companies, self.contact_names = _name_pools(self.rng, n)
        self.locked_per_rep: dict[int, int] = {}
        # The acting admin owns a share, kept under the private cap so they can still claim.
        self.admin_left = ADMIN_MAX
        self.admin_odds = min(ADMIN_SHARE, ADMIN_MAX / max(1.0, n * (1 - POOL_SHARE)))
        self.tier_cuts = (revenue_cut(0.80), revenue_cut(0.95))

    # --- small draws ------------------------------------------------------------------------

    def _phone(self) -> str:
        """A valid number in E.164: mostly Chinese mobiles, some landlines and foreign numbers."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.85:
            return "+86" + rng_choice(rng, CN_MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"
        if roll < 0.93:
            return rng_choice(rng, CN_LANDLINES) + f"{rng.randrange(50_000_000, 70_000_000)}"
        prefix, digits = rng_choice(rng, FOREIGN_PHONES)
        return prefix + f"{rng.randrange(10 ** digits):0{digits}d}"

    def _email(self, local: str) -> str:
        rng = self.rng
        return f"{local}{rng.randrange(1, 999)}@{rng.choice(EMAIL_DOMAINS)}"

    def _region(self) -> str:
        return rng_choice(self.rng, CN_CITIES) if self.rng.random() < 0.9 else rng_choice(self.rng, INTL_CITIES)

    # --- one customer -------------------------------------------------------------------------

    def chunk(self, count: int) -> _Batch:
        batch = _Batch()
        for _ in range(count):
            self._customer(batch)
        return batch

    def _customer(self, batch: _Batch) -> None:
        rng, clock = self.rng, self.clock
        cid = self.next_id
        self.next_id += 1
        year = 365 * MINUTES_PER_DAY

        is_company = rng.random() < 0.55
        if is_company:
            named = rng_choice(rng, self.companies)
            company_named = None
        else:
            named = rng_choice(rng, self.people)
            company_named = rng_choice(rng, self.companies) if rng.random() < 0.6 else None
        phone = self._phone() if rng.random() < 0.9 else None
        email = self._email(named.local) if rng.random() < 0.7 else None
        region = self._region()
        address = (f"{region}{rng_choice(rng, DISTRICTS)}{rng_choice(rng, ROADS)}{rng.randrange(1, 999)}号"
                   if rng.random() < 0.5 else None)

        # Ownership story (minutes before now).
        roll = rng.random()
        in_pool = roll < POOL_SHARE
        created = rng.randrange(2 * MINUTES_PER_DAY, year)
        owner_id = None
        claimed = None
        pool_entered = None
        released_by = None
        release_reason = None
        previous_owner = None
        events: list[tuple[Any, ...]] = []
        tier_roll = rng.random()
        has_won = tier_roll < 0.2 and not in_pool
        if in_pool:
            if rng.random() < 0.7:
                previous_owner = rng_choice(rng, self.rep_ids)
                pool_entered = rng.randrange(0, created - MINUTES_PER_DAY)
                released_by = previous_owner
                release_reason = rng_choice(rng, DEFAULT_RELEASE_REASONS)
                if release_reason == "other":
                    release_reason = "other: " + rng_choice(rng, ("客户搬迁", "联系人离职", "moved abroad"))
                events.append((cid, "created", previous_owner, None, previous_owner, None,
                               clock.ts(created)))
                events.append((cid, "released", previous_owner, previous_owner, None,
                               release_reason, clock.ts(pool_entered)))
            else:
                pool_entered = created
                events.append((cid, "created", self.admin_id, None, None, None, clock.ts(created)))
        else:
            if self.admin_left and rng.random() < self.admin_odds:
                owner_id = self.admin_id
                self.admin_left -= 1
            else:
                owner_id = rng_choice(rng, self.rep_ids)
            # Without a won deal, a claim older than recycle_no_deal_days (90) would be recycled.
            claim_window = created if has_won else min(created, 85 * MINUTES_PER_DAY)
            claimed = rng.randrange(0, claim_window + 1)
            if claimed == created or rng.random() < 0.5:
                claimed = created
                events.append((cid, "created", self.admin_id, None, owner_id, None, clock.ts(created)))
            else:
                events.append((cid, "created", self.admin_id, None, None, None, clock.ts(created)))
                events.append((cid, "claimed", owner_id, None, owner_id, None, clock.ts(claimed)))

        # Follow-ups: the latest one sets last/next; recycling (30 days) is kept at bay.
        last_fu = None
        next_day = None
        follow_rep = owner_id or previous_owner
        latest = None
        if follow_rep is not None:
            end = pool_entered if in_pool else 0
            start = claimed if claimed is not None else created
            if in_pool:
                latest = rng.randrange(end, start + 1) if rng.random() < 0.6 else None
            else:
                # Recycling (30 days from the later of claim and last follow-up) is kept at bay.
                recent = min(start, 29 * MINUTES_PER_DAY + 600)
                fresh_claim = start < 28 * MINUTES_PER_DAY
                latest = None if fresh_claim and rng.random() < 0.3 else rng.randrange(0, recent + 1)
            if latest is not None:
                count = 1 + (rng.random() < 0.35) + (rng.random() < 0.15)  # 1.5 on average
                # Earlier ones strictly before the latest (a tie would leave "latest" ambiguous).
                times = sorted((rng.randrange(latest + 1, start + 1)
                                for _ in range(count - 1 if start > latest else 0)), reverse=True)
                times.append(latest)
                latest_day = clock.day_of(latest)
                for at in times:
                    at_day = clock.day_of(at)
                    nxt = at_day + rng.randrange(1, 21) if rng.random() < 0.8 else None
                    batch.follow_ups.append((cid, follow_rep, clock.ts(at), rng_choice(rng, CHANNELS),
                                             rng_choice(rng, SUMMARIES),
                                             clock.day(nxt) if nxt is not None else None))
                last_fu = clock.ts(latest)
                if not in_pool:
                    # Some due today, some overdue, most ahead (DESIGN §1: the morning list).
                    nxt = 0 if rng.random() < 0.05 else latest_day + rng.randrange(0, 60)
                    # The latest row carries the customer's next date.
                    row = batch.follow_ups[-1]
                    batch.follow_ups[-1] = row[:5] + (clock.day(nxt),)
                    next_day = clock.day(nxt)

        # Deals and tier (DESIGN §3): no won revenue, no tier; otherwise the tier the ranking
        # will give, near enough (see ``revenue_cut``).
        status = "lead"
        tier = None
        deal_rep = owner_id
        if has_won:
            amount = rng.randrange(*HIGH_BAND) if tier_roll < 0.04 else rng.randrange(*LOW_BAND)
            cut_a, cut_b = self.tier_cuts
            tier = "A" if amount >= cut_a else "B" if amount >= cut_b else "C"
            closed = rng.randrange(0, (claimed or created) + 1)
            batch.deals.append(self._deal(cid, deal_rep, "won", amount, created, closed))
            status = "deal"
        if owner_id is not None and rng.random() < 0.45:
            stage = rng_choice(rng, OPEN_STAGES + ("lost",))
            amount = rng.randrange(5_000, 800_000)
            closed = rng.randrange(0, (claimed or created) + 1) if stage == "lost" else None
            batch.deals.append(self._deal(cid, deal_rep, stage, amount, claimed or created, closed))
            if status == "lead":
                status = "lost" if stage == "lost" else "intent"
        elif in_pool and previous_owner is not None and rng.random() < 0.15:
            amount = rng.randrange(5_000, 300_000)
            batch.deals.append(self._deal(cid, previous_owner, "lost", amount, created, pool_entered))
            status = "lost"
        elif status == "lead" and last_fu is not None and rng.random() < 0.3:
            status = "intent"

        locked = 0
        if owner_id is not None and has_won and self.locked_per_rep.get(owner_id, 0) < 5:
            locked = 1
            self.locked_per_rep[owner_id] = self.locked_per_rep.get(owner_id, 0) + 1

        # Contacts.
        contact_parts: list[tuple[str, ...]] = []
        n_contacts = rng.randrange(0, 4) if is_company else (rng.random() < 0.3)
        for index in range(n_contacts):
            person = rng_choice(rng, self.contact_names)
            c_phone = self._phone() if rng.random() < 0.8 else None
            c_email = self._email(person.local) if rng.random() < 0.5 else None
            batch.contacts.append((cid, person.name, rng_choice(rng, TITLES), c_phone, c_email,
                                   person.local if rng.random() < 0.3 else None, int(index == 0)))
            contact_parts += [person.tokens, phone_tokens(c_phone), email_tokens(c_email)]

        if rng.random() < 0.3:
            for tag_id in dict.fromkeys(rng_choice(rng, self.tag_ids) for _ in range(rng.randrange(1, 3))):
                batch.tags.append((cid, tag_id))

        search_text = join_tokens([
            named.tokens, company_named.tokens if company_named else (), phone_tokens(phone),
            email_tokens(email), *contact_parts,
        ])
        updated = min(x for x in (created, claimed, pool_entered, latest) if x is not None)
        created_ts = clock.ts(created)
        batch.customers.append((
            cid, named.name, "company" if is_company else "person",
            company_named.name if company_named else None, rng_choice(rng, INDUSTRIES), region,
            address, phone, email, rng_choice(rng, SOURCES), status, tier, None, None, owner_id,
            clock.ts(claimed) if claimed is not None else None, last_fu, next_day,
            clock.ts(pool_entered) if pool_entered is not None else None, released_by,
            release_reason, locked, search_text, named.key, created_ts, clock.ts(updated),
            self.admin_id, 1,
        ))
        batch.ownership.extend(events)

    def _deal(self, cid: int, owner: int | None, stage: str, amount: int, created: int,
              closed: int | None) -> tuple[Any, ...]:
        rng, clock = self.rng, self.clock
        created_at = rng.randrange(closed if closed is not None else 0, created + 1)
        if stage in OPEN_STAGES:
            expected = clock.day(rng.randrange(-10, 120))
        else:
            expected = clock.day(clock.day_of(closed if closed is not None else 0))
        value: Any = float(amount) if self.sqlite else f"{amount}.00"
        return (cid, owner, rng_choice(rng, DEAL_TITLES), value, stage, expected,
                clock.ts(closed) if closed is not None else None, clock.ts(created_at),
                clock.ts(closed if closed is not None else created_at))


def rng_choice(rng: random.Random, options: Sequence[Any]) -> Any:
    """``rng.choice`` without its overhead (it matters a million times over)."""
    return options[int(rng.random() * len(options))]


# --- writers ------------------------------------------------------------------------------------


def _sqlite_load(store: StoreBase, chunks: Iterator[_Batch], progress: Progress | None,
                 total: int, *, fresh: bool = False, side: _SideIndex | None = None) -> None:
    """One transaction: drop triggers and indexes, insert (indexing the search text chunk by
    chunk), build the indexes, recreate the triggers, commit.

    With a ``side`` index (fresh loads) the search text is indexed by another process and
    copied in by a second transaction after the first: in between, the new customers are not
    yet searchable (a fresh load normally holds the file under an exclusive lock meanwhile).

    ``fresh`` (no customer yet): the load leaves WAL for an in-memory rollback journal under an
    exclusive lock, so each page is written once (not to the WAL and again at the checkpoint);
    WAL is restored at the end. Skipped when another connection holds the database.
    """
    raw = store.engine.raw_connection()
    bulk = False
    try:
        db = raw.driver_connection
        db.execute("PRAGMA cache_size = -1000000")
        db.execute("PRAGMA temp_store = MEMORY")
        db.execute("PRAGMA synchronous = OFF")
        if fresh:
            try:
                mode = db.execute("PRAGMA journal_mode = MEMORY").fetchone()[0]
            except Exception:  # another connection is using it: keep WAL  # noqa: BLE001
                mode = "wal"
            bulk = str(mode).lower() == "memory"
            if bulk:
                db.execute("PRAGMA locking_mode = EXCLUSIVE")
        db.execute("BEGIN IMMEDIATE")
        for trigger in search_sql.FTS_TRIGGERS:
            db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        # Secondary indexes are built once at the end (a sort) instead of row by row.
        indexes = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({', '.join('?' * len(BULK_TABLES))})", BULK_TABLES,
        ).fetchall()
        for name, _ in indexes:
            db.execute(f'DROP INDEX "{name}"')
        done = 0
        for batch in chunks:
            _sqlite_insert(db, "customer", CUSTOMER_COLUMNS, batch.customers)
            if batch.customers and side is None:
                # Indexed chunk by chunk (in C, from the rows just written) while the worker
                # draws the next chunk, rather than by one 'rebuild' after the last.
                db.execute(search_sql.FTS_INSERT_RANGE,
                           (batch.customers[0][0], batch.customers[-1][0]))
            _sqlite_insert(db, "contact", CONTACT_COLUMNS, batch.contacts)
            _sqlite_insert(db, "follow_up", FOLLOW_UP_COLUMNS, batch.follow_ups)
            _sqlite_insert(db, "deal", DEAL_COLUMNS, batch.deals)
            _sqlite_insert(db, "ownership_event", OWNERSHIP_COLUMNS, batch.ownership)
            _sqlite_insert(db, "customer_tag", TAG_COLUMNS, batch.tags)
            done += len(batch.customers)
            if progress:
                progress(done, total)
        for _, index_sql in indexes:
            db.execute(index_sql)
        for trigger_sql in search_sql.FTS_TRIGGERS.values():
            db.execute(trigger_sql)
        db.execute("COMMIT")
        if side is not None:
            side.copy_into(db)
        # Sampled statistics (about 1,000 rows an index) plan as well as a full scan of
        # millions of rows, in a tenth of the time.
        db.execute("PRAGMA analysis_limit=1000")
        db.execute("ANALYZE")
    except BaseException:
        if raw.driver_connection.in_transaction:
            raw.driver_connection.execute("ROLLBACK")
        raise
    finally:
        try:
            if bulk:
                db.execute("PRAGMA locking_mode = NORMAL")
                db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA cache_size = -2000")
        finally:
            raw.close()


class _SideIndex:
    """The search index of a fresh load, built by a third process in a side file.

    The worker hands each chunk's (id, search_text) to this process, which indexes them into an
    FTS5 table of the same definition, alongside the writer's inserts and index builds (which
    leave a core partly idle). The side file is its own database, never attached to the writer
    while this process writes it (a writer's transaction would lock it). The writer then copies the finished FTS5 shadow tables (the index itself)
    into its empty ``customer_fts``: a plain copy of pages instead of tokenising a million rows
    on the writer's core. If the process failed, the writer rebuilds the index itself.
    """

    def __init__(self, context: Any) -> None:
        import sqlite3
        import tempfile

        handle, self.path = tempfile.mkstemp(prefix="crm-demo-fts-", suffix=".db")
        os.close(handle)
        db = sqlite3.connect(self.path)
        try:
            db.execute("CREATE TABLE customer (id INTEGER PRIMARY KEY, search_text TEXT)")
            db.execute(search_sql.FTS_TABLE)
            db.commit()
        finally:
            db.close()
        self.queue = context.Queue(maxsize=8)
        self.process = context.Process(target=_index_side, args=(self.path, self.queue),
                                       daemon=True)
        self.process.start()

    def copy_into(self, db: Any) -> None:
        self.process.join()
        if self.process.exitcode != 0:
            db.execute("BEGIN IMMEDIATE")
            db.execute(search_sql.FTS_REBUILD)
            db.execute("COMMIT")
            return
        shadows = [name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'customer_fts_%' "
            "AND name <> 'customer_fts_config'")]
        db.execute("ATTACH DATABASE ? AS fts_side", (self.path,))
        try:
            db.execute("BEGIN IMMEDIATE")
            for name in shadows:
                db.execute(f"DELETE FROM main.{name}")
                db.execute(f"INSERT INTO main.{name} SELECT * FROM fts_side.{name}")
            db.execute("COMMIT")
        finally:
            if db.in_transaction:
                db.execute("ROLLBACK")
            db.execute("DETACH DATABASE fts_side")

    def close(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        for suffix in ("", "-journal"):
            with contextlib.suppress(OSError):
                os.unlink(self.path + suffix)


def _index_side(path: str, queue: Any) -> None:
    import sqlite3

    failure: BaseException | None = None
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA cache_size = -262144")
        db.execute("BEGIN")
    except BaseException as exc:  # reported by the exit code, after draining the queue
        failure = exc
    while (rows := queue.get()) is not None:
        if failure is None:
            try:
                db.executemany("INSERT INTO customer_fts(rowid, search_text) VALUES (?, ?)", rows)
            except BaseException as exc:  # keep draining: the worker must never block on us
                failure = exc
    try:
        if failure is None:
            db.execute("COMMIT")
    finally:
        db.close()
    if failure is not None:
        raise failure


def _sqlite_insert(db: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    if rows:
        marks = ", ".join("?" * len(columns))
        db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def _postgresql_load(store: StoreBase, chunks: Iterator[_Batch], progress: Progress | None,
                     total: int) -> None:
    raw = store.engine.raw_connection()
    try:
        pg = raw.driver_connection
        drop_index = total >= 50_000
        with pg.transaction(), pg.cursor() as cur:
            if drop_index:
                cur.execute(search_sql.PG_DROP_SEARCH_INDEX)
            done = 0
            for batch in chunks:
                for table, columns, rows in (
                    ("customer", CUSTOMER_COLUMNS, batch.customers),
                    ("contact", CONTACT_COLUMNS, batch.contacts),
                    ("follow_up", FOLLOW_UP_COLUMNS, batch.follow_ups),
                    ("deal", DEAL_COLUMNS, batch.deals),
                    ("ownership_event", OWNERSHIP_COLUMNS, batch.ownership),
                    ("customer_tag", TAG_COLUMNS, batch.tags),
                ):
                    if rows:
                        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                            for row in rows:
                                copy.write_row(row)
                done += len(batch.customers)
                if progress:
                    progress(done, total)
            cur.execute("SELECT setval(pg_get_serial_sequence('customer', 'id'), "
                        "(SELECT max(id) FROM customer))")
            if drop_index:
                cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
                cur.execute(search_sql.PG_SEARCH_INDEX)
        pg.commit()
        # VACUUM, not only ANALYZE: freshly copied rows are not yet all-visible, so until
        # autovacuum came by, index-only scans (the dashboard's open-sea weeks, counts over
        # the ownership indexes) visited the table for every row: 0.43 s instead of 0.05 s.
        pg.autocommit = True
        try:
            pg.execute("VACUUM (ANALYZE)")
        finally:
            pg.autocommit = False
    finally:
        raw.close()


# --- producing chunks ---------------------------------------------------------------------------


def _chunks(settings: dict[str, Any]) -> Iterator[_Batch]:
    """The batches of a load, drawn in this process."""
    generator = DemoGenerator(**settings)
    left = int(settings["n"])
    while left > 0:
        size = min(CHUNK, left)
        left -= size
        yield generator.chunk(size)


_SEARCH_TEXT = CUSTOMER_COLUMNS.index("search_text")


def _produce(settings: dict[str, Any], queue: Any, side_queue: Any = None) -> None:
    try:
        for batch in _chunks(settings):
            queue.put(batch)
            if side_queue is not None:
                side_queue.put([(row[0], row[_SEARCH_TEXT]) for row in batch.customers])
        if side_queue is not None:
            side_queue.put(None)
        queue.put(None)
    except BaseException as exc:  # the loader re-raises it
        queue.put(exc)


def _chunks_from_worker(settings: dict[str, Any], side: _SideIndex | None = None) -> Iterator[_Batch]:
    """The same batches, drawn by a child process while this one writes (two cores, one each).

    Only where ``fork`` exists; elsewhere, or if the child cannot start, in this process.
    """
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        yield from _chunks(settings)
        return
    context = multiprocessing.get_context("fork")
    queue = context.Queue(maxsize=3)
    worker = context.Process(target=_produce, daemon=True,
                             args=(settings, queue, side.queue if side else None))
    worker.start()
    finished = False
    try:
        while True:
            item = queue.get()
            if item is None:
                finished = True
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # A finished worker may still be handing its last rows to the side index: let it.
        if not finished and worker.is_alive():
            worker.terminate()
        worker.join()


# --- entry point --------------------------------------------------------------------------------


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _ensure_reps(store: StoreBase, actor: Actor) -> list[int]:
    """The demo reps and managers (added when missing); returns the ids of those who own customers."""
    now = store.clock.now()
    with store.write() as conn:
        existing = dict(conn.execute(select(rep_t.c.login, rep_t.c.id)).all())
        new_rows = []
        for index, (login, name) in enumerate(DEMO_REPS):
            if login not in existing:
                new_rows.append(dict(login=login, name=name, role="rep",
                                     team=DEMO_TEAMS[index % len(DEMO_TEAMS)], active=True,
                                     created_at=now))
        for login, name, team in DEMO_MANAGERS:
            if login not in existing:
                new_rows.append(dict(login=login, name=name, role="manager", team=team,
                                     active=True, created_at=now))
        if new_rows:
            conn.execute(insert(rep_t), new_rows)
            store._audit(conn, actor, "rep", None, "demo_reps",
                         {"added": (None, str(len(new_rows)))})
        ids = dict(conn.execute(select(rep_t.c.login, rep_t.c.id)).all())
    return [ids[login] for login, _ in DEMO_REPS] + [ids[login] for login, _, _ in DEMO_MANAGERS]


def _ensure_tags(store: StoreBase) -> list[int]:
    with store.write() as conn:
        existing = set(conn.execute(select(tag_t.c.name)).scalars())
        missing = [dict(name=name) for name in TAGS if name not in existing]
        if missing:
            conn.execute(insert(tag_t), missing)
        return list(conn.execute(select(tag_t.c.id).where(tag_t.c.name.in_(TAGS))).scalars())


def generate_demo(store: StoreBase, n: int, actor: Actor, progress: Progress | None = None,
                  *, seed: int = 20261125) -> int:
    """Add ``n`` demo customers (with reps, contacts, follow-ups, deals, tags); returns ``n``."""
    if n <= 0:
        return 0
    rep_ids = _ensure_reps(store, actor)
    tag_ids = _ensure_tags(store)
    with store.read() as conn:
        first_id = int(conn.execute(select(func.coalesce(func.max(customer_t.c.id), 0))).scalar()) + 1
    settings = dict(
        seed=seed, n=n, now=store.clock.now(), today=store.clock.today(), sqlite=store.is_sqlite,
        admin_id=actor.id, rep_ids=rep_ids, tag_ids=tag_ids, first_id=first_id,
    )
    fresh = first_id == 1
    side = None
    if store.is_sqlite and fresh and n >= WORKER_FROM and _can_fork():
        import multiprocessing

        side = _SideIndex(multiprocessing.get_context("fork"))
    try:
        chunks = _chunks_from_worker(settings, side) if n >= WORKER_FROM else _chunks(settings)
        if progress:
            progress(0, n)
        if store.is_sqlite:
            _sqlite_load(store, chunks, progress, n, fresh=fresh, side=side)
        else:
            _postgresql_load(store, chunks, progress, n)
    finally:
        if side is not None:
            side.close()
    with store.write() as conn:
        store._audit(conn, actor, "customer", None, "demo", {"customers": (None, str(n))})
    # The deals went in behind the store's back: rank the book now, so it opens ranked and the
    # next refresh has nothing to do. The drawn tiers are the rule's but for the customers
    # near a cut, so this is the ranking query and a few hundred row writes, not a rewrite.
    # (On PostgreSQL a role that row-level security limits leaves it to the owner's refresh.)
    if hasattr(store, "refresh_tiers_if_stale"):
        store.mark_tiers_stale()  # type: ignore[attr-defined]
        store.refresh_tiers_if_stale()  # type: ignore[attr-defined]
    return n
