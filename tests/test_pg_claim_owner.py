"""A refused claim names the owner only to those who may know it, through a rep's own role too.

DESIGN §4: the losers of a claim race hear "already claimed by X" on SQLite and PostgreSQL
alike. Issue 14 item 2: claiming id after id must not list who owns every customer. Under
row-level security a rep cannot read a colleague's customer or its history, so the database
function ``crm_customer_owner`` applies the rule itself (store/security/row_level.py); these
tests connect as the reps' own login roles, as on a shared server.
"""

from __future__ import annotations

import pytest

from crm_tui.config import resolve_actor
from crm_tui.store import NotFound, RuleRefused
from tests import test_pg_security
from tests.conftest import PG_ENV
from tests.test_pg_security import Cluster

cluster = test_pg_security.cluster  # the fixture: four reps, A's private customer, one in the sea

pytestmark = pytest.mark.skipif(
    not __import__("os").environ.get(PG_ENV), reason=f"needs PostgreSQL ({PG_ENV})"
)


def _claim_refusal(cluster: Cluster, role: str, customer_id: int) -> Exception:
    store = cluster.store_of(role)
    try:
        with pytest.raises((RuleRefused, NotFound)) as refused:
            store.claim(customer_id, resolve_actor(store))
        return refused.value
    finally:
        store.close()


def test_the_loser_of_a_claim_race_is_told_who_won(cluster: Cluster):
    alice_store = cluster.store_of(cluster.alice)
    try:
        alice_store.claim(cluster.pool, resolve_actor(alice_store))
    finally:
        alice_store.close()
    refusal = _claim_refusal(cluster, cluster.bob, cluster.pool)
    assert isinstance(refusal, RuleRefused)
    assert "already claimed by" in str(refusal) and cluster.alice in str(refusal)


def test_a_private_customer_never_in_the_open_sea_is_out_of_reach(cluster: Cluster):
    refusal = _claim_refusal(cluster, cluster.carol, cluster.secret)
    assert isinstance(refusal, NotFound)
    assert cluster.alice not in str(refusal)
    # The same sentence as for an id that does not exist: the two cannot be told apart.
    missing = _claim_refusal(cluster, cluster.carol, 987654)
    assert str(refusal).replace(str(cluster.secret), "N") == str(missing).replace("987654", "N")


def test_the_owner_function_names_nobody_out_of_reach(cluster: Cluster):
    sql = "SELECT count(*) FROM crm_customer_owner(%s)"
    assert cluster.scalar(cluster.carol, sql, cluster.secret) == 0
    assert cluster.scalar(cluster.carol, sql, cluster.pool) == 1  # the open sea: owner nobody
    assert cluster.scalar(cluster.alice, sql, cluster.secret) == 1  # her own
    assert cluster.scalar(cluster.maria, sql, cluster.secret) == 1  # her team's manager
