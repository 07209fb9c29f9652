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

from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select

from crm_tui.store.db.base import StoreBase, customer_t, rep_t, tag_t
from crm_tui.store.demo import chunks as produce
from crm_tui.store.demo.load import Progress, SideIndex, postgresql_load, sqlite_load
from crm_tui.store.demo.names import DEMO_MANAGERS, DEMO_REPS, DEMO_TEAMS, TAGS
from crm_tui.store.records import Actor

if TYPE_CHECKING:
    from crm_tui.store.store import Store

WORKER_FROM = 50_000  # loads this big draw their rows in a second process


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
    """The demo tags (added when missing); returns their ids."""
    with store.write() as conn:
        existing = set(conn.execute(select(tag_t.c.name)).scalars())
        missing = [dict(name=name) for name in TAGS if name not in existing]
        if missing:
            conn.execute(insert(tag_t), missing)
        return list(conn.execute(select(tag_t.c.id).where(tag_t.c.name.in_(TAGS))).scalars())


def generate_demo(store: Store, n: int, actor: Actor, progress: Progress | None = None,
                  *, seed: int = 20261125) -> int:
    """Add ``n`` demo customers (with reps, contacts, follow-ups, deals, tags); returns ``n``."""
    if n <= 0:
        return 0
    rep_ids = _ensure_reps(store, actor)
    tag_ids = _ensure_tags(store)
    with store.read() as conn:
        first_id = int(conn.execute(select(func.coalesce(func.max(customer_t.c.id), 0))).scalar_one()) + 1
    settings = dict(
        seed=seed, n=n, now=store.clock.now(), today=store.clock.today(), sqlite=store.is_sqlite,
        admin_id=actor.id, rep_ids=rep_ids, tag_ids=tag_ids, first_id=first_id,
    )
    fresh = first_id == 1
    side = None
    if store.is_sqlite and fresh and n >= WORKER_FROM and _can_fork():
        import multiprocessing

        side = SideIndex(multiprocessing.get_context("fork"))
    try:
        chunks = (produce.chunks_from_worker(settings, side) if n >= WORKER_FROM
                  else produce.chunks(settings))
        if progress:
            progress(0, n)
        if store.is_sqlite:
            sqlite_load(store, chunks, progress, n, fresh=fresh, side=side)
        else:
            postgresql_load(store, chunks, progress, n)
    finally:
        if side is not None:
            side.close()
    with store.write() as conn:
        store._audit(conn, actor, "customer", None, "demo", {"customers": (None, str(n))})
    # The deals went in behind the store's back: rank the book now, so it opens ranked and the
    # next refresh has nothing to do. The drawn tiers are the rule's but for the customers
    # near a cut, so this is the ranking query and a few hundred row writes, not a rewrite.
    # (On PostgreSQL a role that row-level security limits leaves it to the owner's refresh.)
    store.mark_tiers_stale()
    store.refresh_tiers_if_stale()
    return n
