"""Hostile and malformed input (DESIGN §8): validators, search input, literal display, limits.

Property-based (hypothesis) where the input space is the point: any text, any search string.
Names with Rich markup are stored as given and shown literally; control characters (ESC and
friends) are refused on the way in, and shown as visible escapes if they come from elsewhere
(an old import, a ``psql`` session); SQL and FTS metacharacters in searches are plain data.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from crm_tui.present.textsafe import printable
from crm_tui.store import Actor, Store, ValidationError, validate
from crm_tui.store.db.base import customer_t
from crm_tui.store.search.tokens import query_terms

CRM = str(Path(sys.executable).parent / "crm")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
HOSTILE_NAMES = [
    "[bold red]Boss[/bold red] Ltd",
    "[link=https://evil.example]click[/link]",
    "\\[escaped] [/] [",
    ":warning: :skull: Emoji Co",
    "'; DROP TABLE customer; --",
    "Robert\"); DELETE FROM rep;--",
    '"张伟" NEAR(a b) OR * ^',
]
STORE_SETTINGS = settings(
    max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- validators ---------------------------------------------------------------------------------


@given(st.text(max_size=400))
@example("\x1b[2J\x1b[H")
@example("a\u009bb")
@example("name\nwith\r\nbreaks")
def test_text_never_keeps_control_characters_and_names_the_field(value: str):
    try:
        cleaned = validate.text("company", value)
    except ValidationError as refused:
        assert refused.field == "company" and str(refused).startswith("company: ")
        return
    if cleaned is not None:
        assert not CONTROL.search(cleaned) and "\n" not in cleaned
        assert cleaned == cleaned.strip() and 0 < len(cleaned) <= validate.LIMITS["company"]
        assert validate.text("company", cleaned) == cleaned  # idempotent


@given(st.integers(min_value=1, max_value=5000), st.sampled_from(sorted(validate.LIMITS)))
def test_overlong_text_is_refused_with_the_limit_named(extra: int, field: str):
    limit = validate.LIMITS[field]
    with pytest.raises(ValidationError) as refused:
        validate.text(field, "x" * (limit + extra))
    assert refused.value.field == field
    assert f"the limit is {limit}" in str(refused.value)


MOBILE = st.from_regex(r"1(3[0-9]|5[0-35-9]|8[0-9])[0-9]{8}", fullmatch=True)
SEPARATORS = st.sampled_from(["", " ", "-", "  ", "."])


@given(MOBILE, SEPARATORS, st.booleans())
def test_phone_numbers_normalise_to_e164_idempotently(digits: str, sep: str, prefixed: bool):
    typed = sep.join([digits[:3], digits[3:7], digits[7:]])
    if prefixed:
        typed = "+86 " + typed
    normal = validate.phone(typed, "CN")
    assert normal == "+86" + digits
    assert validate.phone(normal, "CN") == normal
    assert validate.phone(normal, "US") == normal  # E.164 needs no default region


@given(st.text(max_size=40))
def test_any_phone_input_is_refused_or_e164(value: str):
    try:
        normal = validate.phone(value, "CN")
    except ValidationError as refused:
        assert refused.field == "phone"
        return
    assert normal is None or (re.fullmatch(r"\+[1-9][0-9]{6,15}", normal)
                              and validate.phone(normal, "CN") == normal)


@given(st.emails())
def test_emails_compare_case_folded(address: str):
    try:
        normal = validate.email(address)
    except ValidationError as refused:
        assert refused.field == "email"
        return
    assert normal is not None and normal == normal.casefold()
    assert validate.email(normal) == normal
    assert validate.email(address.upper()) == normal


@given(st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2,
                   allow_nan=False, allow_infinity=False))
def test_amounts_round_trip(amount: Decimal):
    parsed = validate.amount(str(amount))
    assert parsed == amount and parsed.as_tuple().exponent == -2
    assert validate.amount(f"{amount:,}") == parsed  # 12,345.67 as typed
    assert validate.amount(str(parsed)) == parsed


@given(st.text(max_size=30))
def test_any_amount_input_is_refused_by_name_or_valid(value: str):
    try:
        parsed = validate.amount(value)
    except ValidationError as refused:
        assert refused.field == "amount"
        return
    assert Decimal(0) <= parsed < Decimal("1e12")


# --- search input -------------------------------------------------------------------------------


@given(st.text(max_size=200))
@example("' OR 1=1 --")
@example('"a" OR "b" NEAR(c) * ^ : -')
@example("%_\\' ; -- /* */")
@example("张伟 & | ! <-> :*")
def test_query_terms_hold_only_letters_digits_and_cjk(query: str):
    for term in query_terms(query):
        assert re.fullmatch(r"[0-9a-z]+", term) or CJK_RUN.fullmatch(term), term


@pytest.fixture
def searchable(store: Store, admin: Actor) -> tuple[Store, Actor, set[int]]:
    ids = {store.add_customer(admin, {"name": name}, force=True).id
           for name in [*HOSTILE_NAMES, "张伟", "Acme 100% Ltd", "O'Brien & Sons"]}
    return store, admin, ids


@STORE_SETTINGS
# NUL and lone surrogates have their own tests below.
@given(query=st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
                     max_size=120))
@example(query="' OR 1=1 --")
@example(query="*")
@example(query='" OR "" = "')
@example(query="%")
@example(query="NEAR(a b)")
@example(query="::::")
@example(query="张伟 OR 1")
def test_any_search_input_is_data(searchable, query: str):
    store, admin, ids = searchable
    everything = {c.id for c in store.find(admin, "", limit=1000)}
    found = {c.id for c in store.find(admin, query, limit=1000)}
    assert found <= everything == ids
    if not query_terms(query):
        assert found == everything  # nothing searchable in it: the unfiltered listing
    else:
        # No term is a token prefix in more than three of these names, nor a name's start in
        # more than two: a query that found them all would have escaped into the SQL (OR 1=1).
        assert found != everything


@pytest.mark.parametrize("query", ["0\x00", "\x00", "boss\x00' OR 1=1", "boss\udcff", "\ud800"])
def test_nul_and_undecodable_characters_in_a_search_are_data(searchable, query: str):
    """PostgreSQL text cannot hold NUL, and no database takes a lone surrogate (what Python makes
    of a command-line argument that is not valid UTF-8): the search must not send either."""
    store, admin, ids = searchable
    found = {c.id for c in store.find(admin, query, limit=1000)}
    assert found <= ids


def test_sql_metacharacters_find_what_they_spell(searchable):
    store, admin, _ = searchable
    assert [c.name for c in store.find(admin, "DROP TABLE")] == ["'; DROP TABLE customer; --"]
    assert [c.name for c in store.find(admin, "' OR 1=1 --")] == []
    assert [c.name for c in store.find(admin, "O'Brien")] == ["O'Brien & Sons"]
    assert [c.name for c in store.find(admin, "100%")] == ["Acme 100% Ltd"]


def test_a_huge_search_query_neither_fails_nor_matches_everything(searchable):
    store, admin, _ = searchable
    assert store.find(admin, "zz " * 5000) == []
    assert store.find(admin, "张" * 5000) == []
    assert store.find(admin, "1" * 5000) == []


# --- literal display ----------------------------------------------------------------------------


def _crm(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160", "TERM": "xterm-256color", "FORCE_COLOR": "1"}
    env.pop("NO_COLOR", None)
    return subprocess.run([CRM, "--db", url, *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.fixture
def hostile(sqlite_url: str, clock) -> tuple[str, int]:
    """A customer whose name is markup and whose notes and company carry raw escape sequences,
    as an old import or a ``psql`` session could have stored them (the validators refuse ESC)."""
    from crm_tui.config import os_login
    from crm_tui.store.schema.setup import initialise

    initialise(sqlite_url, os_login(), "Root", clock=clock)
    store = Store(sqlite_url, clock=clock)
    try:
        me = store.actor(os_login())
        customer = store.add_customer(me, {"name": "[bold red]Boss[/bold red] Ltd",
                                           "notes": "[link=https://evil.example]click[/link]"})
        with store.write() as conn:
            conn.execute(update(customer_t).where(customer_t.c.id == customer.id).values(
                company="\x1b[2J\x1b[HWiped", region="\x1b]0;owned\x07title", industry="\x9b31m"))
    finally:
        store.close()
    return sqlite_url, customer.id


def test_the_store_refuses_escape_sequences_naming_the_field(store: Store, admin: Actor):
    for field in ("name", "company", "notes"):
        with pytest.raises(ValidationError) as refused:
            store.add_customer(admin, {"name": "Ok", field: "bad \x1b[2J here"})
        assert refused.value.field == field and "U+001B" in str(refused.value)


def test_crm_show_and_find_print_markup_and_escapes_literally(hostile):
    url, customer_id = hostile
    shown = _crm(url, "show", str(customer_id))
    assert shown.returncode == 0, shown.stderr
    found = _crm(url, "find", "boss")
    assert found.returncode == 0, found.stderr
    for output in (shown.stdout, found.stdout):
        text = re.sub(r"\x1b\[[0-9;]*m", "", output)  # Rich's own colours (FORCE_COLOR)
        assert "[bold red]Boss[/bold red] Ltd" in text
        assert "\\x1b[2J\\x1b[HWiped" in text
        assert "\x1b[2J" not in output and "\x1b]" not in output and "\x07" not in output
        assert "\x9b" not in output
    assert "[link=https://evil.example]click[/link]" in shown.stdout
    assert "\x1b]8;" not in shown.stdout  # no hyperlink escape was produced from the markup
    as_json = json.loads(_crm(url, "show", str(customer_id), "--json").stdout)
    assert as_json["company"] == "\x1b[2J\x1b[HWiped"  # data is data: JSON escapes it


def test_literal_rendering_snapshot(hostile, snapshot):
    """What ``crm find`` prints for the hostile customer, pinned: markup as typed, ESC visible."""
    url, _ = hostile
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}
    result = subprocess.run([CRM, "--db", url, "find", "boss"], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    from crm_tui.config import os_login

    me = os_login()  # root in CI; the column is padded to the longer of it and "owner"
    assert re.sub(rf"\b{re.escape(me)}\b *", lambda m: "ME".ljust(len(m.group())), result.stdout) \
        == snapshot


@pytest.fixture
def hostile_book(tmp_path: Path):
    """A small book for the TUI: markup names, and raw escapes as an old import could leave."""
    from crm_tui.store import FixedClock
    from crm_tui.store.schema import migrate as schema
    from crm_tui.store.schema.setup import initialise
    from tests.conftest import FIXED_NOW
    from tests.tui_data import utc_local_time

    path = str(tmp_path / "crm.db")
    schema.upgrade(path)
    clock = FixedClock(FIXED_NOW)
    with utc_local_time():
        initialise(path, "boss", "The Boss", clock=clock)
        store = Store(path, clock=clock)
        boss = store.actor("boss")
        ids = [store.add_customer(boss, {"name": name, "company": "Acme [i]Italic[/i]"}, force=True).id
               for name in ("[bold red]Boss[/bold red] Ltd", "[link=https://evil.example]x[/link]",
                            "张伟 [reverse]", "Plain Name")]
        with store.write() as conn:
            conn.execute(update(customer_t).where(customer_t.c.id == ids[-1])
                         .values(company="\x1b[2J\x1b[HWiped", region="\x1b]0;owned\x07"))
        store.close()
        yield path, clock


def test_tui_shows_markup_and_escapes_literally_snapshot(snap_compare, hostile_book):
    """The customer list over hostile names at 120x36: "[bold red]Boss[/bold red] Ltd" and
    "[link=https://evil.example]x[/link]" and "张伟 [reverse]" written out as typed, in plain
    style; the companies read "Acme [i]Italic[/i]" and, for Plain Name, "\\x1b[2J\\x1b[HWiped"
    as visible characters; nothing bold, italic, reversed or cleared by the data."""
    from crm_tui.store import FixedClock
    from crm_tui.tui.app import make_app
    from tests.tui_data import settle

    path, clock = hostile_book
    store = Store(path, clock=clock)
    app = make_app(store, store.actor("boss"), clock=clock, database_label="/srv/crm/crm.db",
                   cursor_blink=False, watch_changes=False, recycle_at_start=False,
                   start_mode="customers")
    try:
        assert isinstance(clock, FixedClock)
        assert snap_compare(app, terminal_size=(120, 36), run_before=settle)
    finally:
        store.close()


@given(st.text(max_size=80))
def test_printable_leaves_no_control_character(value: str):
    shown = printable(value)
    assert not CONTROL.search(shown)
    if not CONTROL.search(value):
        assert shown == value


# --- limits at the CLI --------------------------------------------------------------------------


def test_overlong_names_are_refused_with_the_limit_named(hostile):
    url, _ = hostile
    result = _crm(url, "add", "x" * 201)
    assert result.returncode == 2
    assert "name" in result.stderr and "the limit is 200" in result.stderr
    assert "Traceback" not in result.stderr
    result = _crm(url, "log", "1", "y" * 5001)
    assert result.returncode == 2 and "the limit is 5000" in result.stderr
    wide = unicodedata.lookup("CJK UNIFIED IDEOGRAPH-4E00") * 201
    result = _crm(url, "add", wide)
    assert result.returncode == 2 and "the limit is 200" in result.stderr


def test_bytes_that_are_not_utf8_on_the_command_line(hostile):
    """Refused as a value (exit 2, naming the field), nothing found as a search or a name."""
    url, _ = hostile
    undecodable = os.fsencode("Acme\udcff")  # the byte 0xFF, as a shell passes $'Acme\xff'

    def crm(*args: str | bytes) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CRM, "--db", url, *args], capture_output=True, text=True,
                              timeout=120)

    added = crm("add", undecodable)
    assert added.returncode == 2 and "name" in added.stderr, added.stderr
    searched = crm("find", undecodable)
    assert searched.returncode == 0, searched.stderr
    shown = crm("show", undecodable)
    assert shown.returncode == 4, shown.stderr
