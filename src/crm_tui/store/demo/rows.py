"""Drawing the demo's rows: customers with their contacts, follow-ups, deals, tags and ownership
events, as tuples in the column order the loaders write (DESIGN §3, §4).

About a third of the customers are in the open sea and the rest spread over the demo reps and
the acting admin, with ownership events that tell the same story as the owner fields. Every
value comes from one seeded ``random.Random``, so a seed gives the same rows; timestamps are
pre-formatted strings in the backend's own text form, cached per minute, because a million
customers use the same year of minutes many times over.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from crm_tui.store.customers.duplicates import match_key as _match_key
from crm_tui.store.demo.names import (
    CHANNELS,
    CN_CITIES,
    CN_LANDLINES,
    CN_MOBILE_PREFIXES,
    DEAL_TITLES,
    DISTRICTS,
    EMAIL_DOMAINS,
    FOREIGN_PHONES,
    INDUSTRIES,
    INTL_CITIES,
    ROADS,
    SOURCES,
    SUMMARIES,
    TITLES,
    name_pools,
)
from crm_tui.store.domain import OPEN_STAGES
from crm_tui.store.search.tokens import email_tokens, join_fields, phone_tokens
from crm_tui.store.team.settings import DEFAULT_RELEASE_REASONS

POOL_SHARE = 0.34
ADMIN_SHARE = 0.03
ADMIN_MAX = 150  # below the default private_cap (200)

CUSTOMER_COLUMNS = (
    "id", "name", "kind", "company", "industry", "region", "address", "phone", "email", "source",
    "status", "tier", "notes", "extra", "owner_id", "claimed_at", "last_follow_up_at",
    "next_follow_up_at", "pool_entered_at", "released_by_id", "release_reason", "locked",
    "sort_key",
    "search_text", "name_key", "match_key", "created_at", "updated_at", "updated_by_id",
    "version",
)
CONTACT_COLUMNS = ("customer_id", "name", "title", "phone", "email", "wechat", "is_primary")
FOLLOW_UP_COLUMNS = ("customer_id", "rep_id", "at", "channel", "summary", "next_at")
DEAL_COLUMNS = ("customer_id", "owner_id", "title", "amount", "stage", "expected_close",
                "closed_at", "created_at", "updated_at")
OWNERSHIP_COLUMNS = ("customer_id", "kind", "actor_id", "from_rep_id", "to_rep_id", "reason", "at")
TAG_COLUMNS = ("customer_id", "tag_id")

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



# Names come from pools, so the same (name, kind, company) recurs tens of times in a big demo:
# the duplicate key's normalising is worked out once for each.
match_key = functools.lru_cache(maxsize=1 << 17)(_match_key)

class DayClock:
    """Formats minutes before ``now`` and days from today as the backend stores them."""

    def __init__(self, now: datetime, today: date, sqlite: bool) -> None:
        self.now = now.replace(second=0, microsecond=0)
        self.today = today
        self.suffix = ".000000" if sqlite else "+00"
        # Per-instance caches: a year has 525,600 minutes, far fewer than the rows that use them.
        self.ts = cache(self._ts)
        self.day = cache(self._day)
        self.day_of = cache(self._day_of)

    def _ts(self, minutes_ago: int) -> str:
        when = self.now - timedelta(minutes=minutes_ago)
        return when.strftime("%Y-%m-%d %H:%M:%S") + self.suffix

    def _day(self, offset: int) -> str:
        return (self.today + timedelta(days=offset)).isoformat()

    def _day_of(self, minutes_ago: int) -> int:
        """The local calendar day of a timestamp ``minutes_ago``, as an offset from today."""
        when = (self.now - timedelta(minutes=minutes_ago)).astimezone()
        return (when.date() - self.today).days


class Batch:
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
        self.clock = DayClock(now, today, sqlite)
        self.sqlite = sqlite
        self.admin_id = admin_id
        self.rep_ids = list(rep_ids)
        self.tag_ids = list(tag_ids)
        self.next_id = first_id
        self.people, self.companies, self.contact_names = name_pools(self.rng, n)
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

    def chunk(self, count: int) -> Batch:
        batch = Batch()
        for _ in range(count):
            self._customer(batch)
        return batch

    def _customer(self, batch: Batch) -> None:
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
            # Without a won deal, a claim older than recycle_no_deal_days (90) would be recycled:
            # such a customer is claimed within the last 85 days, and is owned from its
            # creation only when that too is that recent (the book is made consistent with the
            # default rules on the day it is made: nothing overdue for recycling).
            claim_window = created if has_won else min(created, 85 * MINUTES_PER_DAY)
            claimed = rng.randrange(0, claim_window + 1)
            if claimed == created or (claim_window == created and rng.random() < 0.5):
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
            end = pool_entered if pool_entered is not None else 0  # set exactly when in_pool
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
            closed: int | None = rng.randrange(0, (claimed or created) + 1)
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
        contact_parts: list[Sequence[str]] = []
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

        search_text = join_fields([
            [named.tokens], [company_named.tokens if company_named else ()], contact_parts,
            [phone_tokens(phone), email_tokens(email)],
        ])
        updated = min(x for x in (created, claimed, pool_entered, latest) if x is not None)
        created_ts = clock.ts(created)
        batch.customers.append((
            cid, named.name, "company" if is_company else "person",
            company_named.name if company_named else None, rng_choice(rng, INDUSTRIES), region,
            address, phone, email, rng_choice(rng, SOURCES), status, tier, None, None, owner_id,
            clock.ts(claimed) if claimed is not None else None, last_fu, next_day,
            clock.ts(pool_entered) if pool_entered is not None else None, released_by,
            release_reason, locked, named.sort_key, search_text, named.key,
            match_key(named.name, "company" if is_company else "person",
                      company_named.name if company_named else None),
            created_ts, clock.ts(updated),
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
