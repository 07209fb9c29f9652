"""PostgreSQL enforces DESIGN §5 itself: roles, grants and row-level security (store/security.py).

Each test gets a fresh database and its own login roles (roles are cluster-wide, so their names
carry a random prefix, and they are dropped afterwards). The admin is the superuser that ran
``crm init``; reps connect as themselves (``postgresql://bob@127.0.0.1/db``, trust auth here),
through the store, through plain psycopg and through the ``psql`` binary.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from crm_tui.cli.app import app
from crm_tui.config import resolve_actor
from crm_tui.store import AlreadyExists, NotFound, PermissionDenied, RuleRefused, Store
from crm_tui.store.schema.setup import initialise
from crm_tui.store.security.row_level import GROUP_ROLE, RLS_TABLES
from tests.conftest import PG_ENV, fresh_pg_database

SECRET = "Alice Secret Trading"


def as_role(url: str, role: str) -> str:
    """``url`` with its user replaced by ``role`` (no password: trust or peer authentication)."""
    from sqlalchemy.engine import make_url

    rendered = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1)).set(
        username=role, password=None
    ).render_as_string(hide_password=False)
    return rendered.replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass
class Cluster:
    url: str  # the superuser's, who ran crm init and is the first admin
    alice: str  # rep, team east
    bob: str  # rep, team east
    maria: str  # manager, team east
    carol: str  # rep, team west
    alice_id: int
    secret: int  # alice's private customer, with a contact, a follow-up, a deal, an edit
    pool: int  # in the open sea
    carols: int  # carol's private customer
    extra_roles: list[str]

    def url_of(self, role: str) -> str:
        return as_role(self.url, role)

    def store_of(self, role: str) -> Store:
        return Store(self.url_of(role))

    def scalar(self, role: str, sql: str, *params: object) -> object:
        import psycopg

        with psycopg.connect(self.url_of(role)) as conn:
            return conn.execute(sql, params).fetchone()[0]  # type: ignore[index]


@pytest.fixture
def cluster(pg_template: str) -> Iterator[Cluster]:
    import psycopg

    url, drop = fresh_pg_database(pg_template)
    prefix = f"crmt{uuid.uuid4().hex[:6]}_"
    roles = {name: prefix + name for name in ("alice", "bob", "maria", "carol")}
    extra: list[str] = []
    try:
        initialise(url, "unused", "The Admin", prefer_database_role=True)
        admin_store = Store(url)
        try:
            boss = resolve_actor(admin_store)
            admin_store.add_rep(boss, roles["alice"], "Alice", team="east")
            admin_store.add_rep(boss, roles["bob"], "Bob", team="east")
            admin_store.add_rep(boss, roles["maria"], "Maria", role="manager", team="east")
            admin_store.add_rep(boss, roles["carol"], "Carol", team="west")
            # Only sentences saying how each rep will be identified; none about provisioning
            # that did not happen.
            assert not [note for note in admin_store.security_notes
                        if "Could not" in note or "may not create" in note]
        finally:
            admin_store.close()
        alice_store, carol_store = Store(as_role(url, roles["alice"])), Store(as_role(url, roles["carol"]))
        try:
            alice = resolve_actor(alice_store)
            assert alice.login == roles["alice"]
            secret = alice_store.add_customer(
                alice, {"name": SECRET, "phone": "138 0013 8000", "company": "秘密科技"}
            ).id
            alice_store.add_contact(alice, secret, {"name": "张伟", "phone": "13900139000"})
            alice_store.log_follow_up(alice, secret, "quoted 40k", next_at="+3d")
            alice_store.add_deal(alice, secret, "Licences", "40000", stage="proposal")
            alice_store.update_customer(alice, secret, {"notes": "budget approved"})
            pool = alice_store.add_customer(alice, {"name": "Open Sea Works"}, pool=True).id
            carol = resolve_actor(carol_store)
            carols = carol_store.add_customer(carol, {"name": "Carol West Ltd"}).id
        finally:
            alice_store.close()
            carol_store.close()
        yield Cluster(url, roles["alice"], roles["bob"], roles["maria"], roles["carol"],
                      alice.id, secret, pool, carols, extra)
    finally:
        drop()
        with psycopg.connect(os.environ[PG_ENV], autocommit=True) as conn:
            for role in [*roles.values(), *extra]:
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_init_creates_the_group_role_and_reps_add_creates_login_roles(cluster: Cluster):
    import psycopg

    with psycopg.connect(cluster.url) as conn:
        for role in (cluster.alice, cluster.bob, cluster.maria, cluster.carol):
            can_login, member = conn.execute(
                "SELECT rolcanlogin, pg_has_role(rolname, %s, 'MEMBER') FROM pg_roles "
                "WHERE rolname = %s", (GROUP_ROLE, role)
            ).fetchone()
            assert can_login and member, role
        secured = {row[0] for row in conn.execute(
            "SELECT relname FROM pg_class WHERE relrowsecurity AND relnamespace = "
            "current_schema()::regnamespace"
        )}
        assert secured == set(RLS_TABLES)
        before = conn.execute("SELECT count(*) FROM pg_policies").fetchone()[0]
    store = Store(cluster.url)  # crm init again: idempotent
    try:
        store.after_init()
        store.after_init()
    finally:
        store.close()
    with psycopg.connect(cluster.url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_policies").fetchone()[0] == before


def test_psql_as_bob_counts_zero_of_alices_private_customers(cluster: Cluster):
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("the psql binary is not installed")
    from sqlalchemy.engine import make_url

    parts = make_url(cluster.url.replace("postgresql://", "postgresql+psycopg://", 1))

    def count(role: str, where: str) -> int:
        result = subprocess.run(
            [psql, "-X", "-h", parts.host or "127.0.0.1", "-p", str(parts.port or 5432),
             "-U", role, "-d", str(parts.database), "-tAc",
             f"SELECT count(*) FROM customer WHERE {where}"],
            capture_output=True, text=True, timeout=60, env={**os.environ, "PGPASSWORD": ""},
        )
        assert result.returncode == 0, result.stderr
        return int(result.stdout.strip())

    alices = f"owner_id = {cluster.alice_id}"
    assert count(cluster.bob, alices) == 0
    assert count(cluster.bob, "true") == 1  # the open sea
    assert count(cluster.alice, alices) == 1
    assert count(cluster.maria, alices) == 1  # her team
    assert count(cluster.carol, alices) == 0


def test_bob_sees_nothing_of_alices_customer_in_any_table(cluster: Cluster):
    bob, secret = cluster.bob, cluster.secret
    q = cluster.scalar
    assert q(bob, "SELECT count(*) FROM customer WHERE owner_id = %s", cluster.alice_id) == 0
    assert q(bob, "SELECT count(*) FROM customer") == 1
    assert q(bob, "SELECT count(*) FROM customer WHERE name = %s OR phone LIKE '%%8000'", SECRET) == 0
    for table in ("contact", "follow_up", "deal", "customer_tag", "ownership_event"):
        assert q(bob, f"SELECT count(*) FROM {table} WHERE customer_id = %s", secret) == 0, table
    assert q(bob, "SELECT count(*) FROM audit_event WHERE new LIKE '%%budget%%' "
                  "OR new LIKE '%%40000%%' OR (entity = 'customer' AND entity_id = %s)", secret) == 0
    assert q(cluster.alice, "SELECT count(*) FROM audit_event WHERE new = 'budget approved'") == 1
    # Rep logins are not secret; who I am to the CRM is a function call away.
    assert q(bob, "SELECT count(*) FROM rep") == 5
    assert q(bob, "SELECT login FROM crm_current_rep()") == bob


def test_bob_cannot_take_change_or_forge_with_sql(cluster: Cluster):
    import psycopg
    from psycopg import errors

    with psycopg.connect(cluster.url, autocommit=True) as conn:
        conn.execute("INSERT INTO setting (key, value) VALUES ('private_cap', '5') "
                     "ON CONFLICT (key) DO NOTHING")
    with psycopg.connect(cluster.url_of(cluster.bob), autocommit=True) as conn:
        bob_id = conn.execute("SELECT crm_rep_id()").fetchone()[0]
        taken = conn.execute("UPDATE customer SET owner_id = %s WHERE id = %s",
                             (bob_id, cluster.secret)).rowcount
        assert taken == 0
        with pytest.raises(errors.InsufficientPrivilege):  # no rep deletes customers at all
            conn.execute("DELETE FROM customer WHERE id = %s", (cluster.secret,))
        with pytest.raises(errors.InsufficientPrivilege):  # giving a customer to alice
            conn.execute("UPDATE customer SET owner_id = %s WHERE id = %s",
                         (cluster.alice_id, cluster.pool))
        with pytest.raises(errors.InsufficientPrivilege):  # a follow-up on alice's customer
            conn.execute("INSERT INTO follow_up (customer_id, rep_id, at, channel, summary) "
                         "VALUES (%s, %s, now(), 'call', 'x')", (cluster.secret, bob_id))
        with pytest.raises(errors.InsufficientPrivilege):  # making himself admin
            conn.execute("UPDATE rep SET role = 'admin' WHERE id = %s", (bob_id,))
        with pytest.raises(errors.InsufficientPrivilege):  # adding a rep
            conn.execute("INSERT INTO rep (login, name, role, active, created_at) "
                         "VALUES ('x', 'x', 'admin', true, now())")
        with pytest.raises(errors.InsufficientPrivilege):  # rewriting history
            conn.execute("UPDATE audit_event SET new = 'x'")
        conn.execute("INSERT INTO setting (key, value) VALUES ('state.bobs', '1')")  # app state
        assert conn.execute("UPDATE setting SET value = '0' "
                            "WHERE key NOT LIKE 'state.%%'").rowcount == 0  # the rules
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("INSERT INTO setting (key, value) VALUES ('private_cap', '0')")
        # The open sea is his to claim (the app's caps and limits are the app's to enforce).
        claimed = conn.execute("UPDATE customer SET owner_id = %s WHERE id = %s AND owner_id IS NULL",
                               (bob_id, cluster.pool)).rowcount
        assert claimed == 1
    assert cluster.scalar(cluster.alice, "SELECT owner_id FROM customer WHERE id = %s",
                          cluster.secret) == cluster.alice_id


def test_bob_through_the_store(cluster: Cluster):
    store = cluster.store_of(cluster.bob)
    try:
        bob = resolve_actor(store)
        assert bob.login == cluster.bob
        with store.read() as conn:
            assert store.rls_applies(conn)
        assert {c.id for c in store.find(bob, "")} == {cluster.pool}
        assert store.find(bob, "secret") == [] and store.find(bob, "8000") == []
        for attempt in (
            lambda: store.get_customer(cluster.secret, bob),
            lambda: store.portrait(bob, cluster.secret, history=True),
            lambda: store.log_follow_up(bob, cluster.secret, "poaching"),
            lambda: store.update_customer(bob, cluster.secret, {"notes": "mine"}),
        ):
            with pytest.raises(NotFound):
                attempt()
        with pytest.raises((RuleRefused, NotFound)) as refused:
            store.claim(cluster.secret, bob)
        assert "Secret" not in str(refused.value) and "8000" not in str(refused.value)
        if isinstance(refused.value, RuleRefused):
            assert "already claimed by Alice" in str(refused.value)
        # The duplicate check reads past row-level security and names the owner only.
        with pytest.raises(AlreadyExists) as duplicate:
            store.add_customer(bob, {"name": "Look Alike", "phone": "+86 138 0013 8000"}, force=True)
        assert f"owned by Alice ({cluster.alice})" in str(duplicate.value)
        assert str(cluster.secret) not in str(duplicate.value).replace(cluster.alice, "")
        stream = io.StringIO()
        store.export_customers(bob, None, fmt="json", stream=stream)
        assert [row["id"] for row in json.loads(stream.getvalue())] == [cluster.pool]
        with pytest.raises(PermissionDenied):
            store.impersonate(bob, cluster.alice)
        assert store.claim(cluster.pool, bob).owner == cluster.bob
    finally:
        store.close()


def test_a_manager_sees_the_team_and_not_beyond(cluster: Cluster):
    store = cluster.store_of(cluster.maria)
    try:
        maria = resolve_actor(store)
        assert {c.id for c in store.find(maria, "")} == {cluster.secret, cluster.pool}
        assert store.portrait(maria, cluster.secret).customer.name == SECRET
        with pytest.raises(NotFound):
            store.get_customer(cluster.carols, maria)
    finally:
        store.close()
    assert cluster.scalar(cluster.maria, "SELECT count(*) FROM contact") == 1


def test_a_role_that_is_no_rep_sees_nothing(cluster: Cluster):
    import psycopg

    stranger = cluster.alice.replace("alice", "stranger")
    cluster.extra_roles.append(stranger)
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{stranger}" LOGIN IN ROLE {GROUP_ROLE}')
    assert cluster.scalar(stranger, "SELECT count(*) FROM customer") == 0
    for function in ("crm_duplicate_owners('x', '+8613800138000', NULL, NULL)",
                     f"crm_customer_owner({cluster.secret})", "crm_search_ids('secret:*')"):
        assert cluster.scalar(stranger, f"SELECT count(*) FROM {function}") == 0, function
    # The same functions, for a rep: owners only where he may know them (a colleague's
    # customer that was never in the open sea is out of his reach; her manager may know), and
    # search within what he may see.
    assert cluster.scalar(cluster.bob, f"SELECT count(*) FROM crm_customer_owner({cluster.secret})") == 0
    assert cluster.scalar(cluster.maria, f"SELECT owner_login FROM crm_customer_owner({cluster.secret})") \
        == cluster.alice
    assert cluster.scalar(cluster.bob, "SELECT count(*) FROM crm_search_ids('secret:*')") == 0
    assert cluster.scalar(cluster.maria, "SELECT count(*) FROM crm_search_ids('secret:*')") == 1


def test_the_cli_as_bob_ignores_user_variables_and_refuses_as(cluster: Cluster, monkeypatch):
    runner = CliRunner()
    url = cluster.url_of(cluster.bob)
    for variable in ("USER", "LOGNAME", "CRM_USER"):
        monkeypatch.setenv(variable, cluster.alice)
    result = runner.invoke(app, ["--db", url, "find", "--json"])
    assert result.exit_code == 0, result.stderr
    assert [row["id"] for row in json.loads(result.stdout)] == [cluster.pool]
    result = runner.invoke(app, ["--db", url, "show", str(cluster.secret)])
    assert result.exit_code == 4 and SECRET not in result.stdout + result.stderr
    result = runner.invoke(app, ["--db", url, "--as", cluster.alice, "find"])
    assert result.exit_code == 3 and "admin" in result.stderr


def test_reps_add_by_an_admin_without_createrole_adds_the_rep_and_says_so(cluster: Cluster):
    import psycopg

    ada = cluster.alice.replace("alice", "ada")
    dave = cluster.alice.replace("alice", "dave")
    cluster.extra_roles += [ada, dave]
    admin_store = Store(cluster.url)
    try:
        admin_store.add_rep(resolve_actor(admin_store), ada, "Ada", role="admin")
    finally:
        admin_store.close()
    result = CliRunner().invoke(app, ["--db", cluster.url_of(ada), "reps", "add", dave, "--name", "Dave"])
    assert result.exit_code == 0, result.stderr
    assert f"The PostgreSQL role {dave} does not exist" in result.stderr
    assert "CREATE ROLE" in result.stderr
    with psycopg.connect(cluster.url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (dave,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM rep WHERE login = %s", (dave,)).fetchone()[0] == 1
    # An admin's own role (not the tables' owner) sees everything, through the policies.
    assert cluster.scalar(ada, "SELECT count(*) FROM customer") == 3
