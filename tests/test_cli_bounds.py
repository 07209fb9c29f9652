"""Errors and edges (issue 22, items 9-11): out-of-range arguments, broken configuration and
databases, values accepted though wrong, and who is acting inside a user namespace.

Every failure is one sentence on stderr with exit 2, 3 or 4 — never exit 1, a traceback, a SQL
statement or a link — on both backends; a hypothesis property feeds ids, limits, days and dates
at and beyond every bound and never sees exit 1.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from crm_tui import config
from crm_tui.cli.app import MAX_ID, app
from crm_tui.store import ValidationError, validate
from crm_tui.store.errors import RuleRefused
from crm_tui.store.team.settings import parse_rule

runner = CliRunner()
CRM = str(Path(sys.executable).parent / "crm")
BACKENDS = ["sqlite", "postgresql"]


def crm(url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def assert_sentence(code: int, err: str, expected: set[int]) -> None:
    """Exit ``expected``, and stderr one line: no traceback, no SQL, no link."""
    assert code in expected, err
    assert len(err.strip().splitlines()) == 1, err
    for leak in ("unexpected error", "sqlalche.me", "SELECT", "Traceback", "[SQL"):
        assert leak not in err, err


def _make_url(kind: str, request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield str(folder / "bounds.db")
        return
    from tests.conftest import fresh_pg_database

    url, drop = fresh_pg_database(request.getfixturevalue("pg_template"))
    yield url
    drop()


@pytest.fixture(scope="module", params=BACKENDS)
def book(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database with a few customers, one of them the caller's (customer 1 claimed)."""
    for url in _make_url(request.param, request, tmp_path_factory.mktemp("bounds")):
        code, _, err = crm(url, "init", "--demo", "30")
        assert code == 0, err
        code, out, err = crm(url, "add", "Bounds Test Co", "--phone", "13800138000", "--json")
        assert code == 0, err
        yield url


BIG_IDS = ["2147483648", "9223372036854775807", "9223372036854775808",
           "99999999999999999999999999", "#18446744073709551616"]


@pytest.mark.parametrize("ref", BIG_IDS)
def test_ids_beyond_every_bound_are_not_found(book, ref):
    for args in (["show", ref], ["claim", ref], ["log", ref, "hi"], ["lock", ref],
                 ["release", ref, "--reason", "other"], ["deal", "add", ref, "T", "100"],
                 ["transfer", "--from", "demo.alice", "--to", "demo.bob", ref]):
        code, _, err = crm(book, *args)
        assert_sentence(code, err, {3, 4})
    code, _, err = crm(book, "deal", "stage", ref.lstrip("#"), "won")
    assert_sentence(code, err, {4})


@pytest.mark.parametrize("ref", ["²", "١٢٣", "#٣", "1²"])
def test_ids_in_other_digits_are_usage_errors(book, ref):
    for args in (["show", ref], ["claim", ref], ["log", ref, "hi"], ["lock", ref]):
        code, _, err = crm(book, *args)
        assert_sentence(code, err, {2, 4})


def test_huge_limit_days_and_demo_are_usage_errors(book):
    for args in (["find", "--limit", "9223372036854775807", "x"], ["due", "--days", "999999999"],
                 ["due", "--limit", str(2**70)], ["init", "--demo", "9999999999"]):
        code, _, err = crm(book, *args)
        assert_sentence(code, err, {2})


@pytest.mark.parametrize("when", ["0001-01-01", "9999-12-31T23:59:59-01:00", "1899-12-31",
                                  "9999-12-31", "10000-01-01"])
def test_dates_out_of_range_are_refused(book, when):
    code, _, err = crm(book, "log", "Bounds Test Co", "called", "--at", when)
    assert_sentence(code, err, {2})
    code, _, err = crm(book, "log", "Bounds Test Co", "called", "--next", when)
    assert_sentence(code, err, {2})


def test_file_arguments_at_their_edges(book, tmp_path):
    long_name = str(tmp_path / ("x" * 300 + ".csv"))
    (tmp_path / "leads.csv").write_text("name\nAlpha\n")
    for args in (["import", str(tmp_path / "leads.csv"), "--encoding", "rot13"],
                 ["import", long_name], ["export", long_name]):
        code, _, err = crm(book, *args)
        assert_sentence(code, err, {2})


# --- configuration and databases ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["database = 5\n", "keymap = 5\n", "keymap = {claim = 5}\n",
                                  "theme = [1]\n", "start_screen = 3\n", "database = {a = 1}\n"])
def test_config_values_of_the_wrong_type_are_exit_2(tmp_path, monkeypatch, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    monkeypatch.setenv("CRM_CONFIG", str(path))
    result = runner.invoke(app, ["find", "x"])
    assert_sentence(result.exit_code, result.stderr, {2})
    assert str(path) in result.stderr


@pytest.fixture
def sqlite_book(tmp_path) -> str:
    url = str(tmp_path / "book.db")
    code, _, err = crm(url, "init", "--demo", "5")
    assert code == 0, err
    return url


def test_a_corrupt_database_file_is_exit_2(tmp_path):
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"two lines of\ngarbage, not SQLite\n" * 200)
    for args in (["find", "x"], ["db", "status"], ["db", "upgrade"], ["show", "1"]):
        code, _, err = crm(str(corrupt), *args)
        assert_sentence(code, err, {2})


def test_a_newer_schema_says_so_and_upgrade_refuses(sqlite_book):
    db = sqlite3.connect(sqlite_book)
    db.execute("UPDATE alembic_version SET version_num = '9999'")
    db.commit()
    db.close()
    for args in (["find", "x"], ["db", "upgrade"], ["db", "status"]):
        code, _, err = crm(sqlite_book, *args)
        assert_sentence(code, err, {3})
        assert "newer than this crm" in err
        assert "run `crm db upgrade`" not in err


def test_a_database_missing_a_table_is_refused_at_open(sqlite_book):
    db = sqlite3.connect(sqlite_book)
    db.execute("DROP TABLE follow_up")
    db.commit()
    db.close()
    for args in (["find", "x"], ["show", "1"], ["log", "1", "hi"]):
        code, _, err = crm(sqlite_book, *args)
        assert_sentence(code, err, {2})
        assert "no table follow_up" in err


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="a read-only mount needs root and unshare")
def test_db_status_on_a_read_only_database(sqlite_book, tmp_path):
    folder = Path(sqlite_book).parent
    script = (f"mount --bind -o ro {folder} {folder} && "
              f"{CRM} --db {sqlite_book} db status; echo \"exit=$?\"; "
              f"{CRM} --db {sqlite_book} find x; echo \"exit=$?\"")
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                          timeout=120)
    if "mount:" in done.stderr:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")
    assert done.stdout.count("exit=2") == 2, done.stdout + done.stderr
    assert "unexpected" not in done.stderr


def test_sqlite_options_in_the_path_are_refused_and_no_such_file_is_made(sqlite_book):
    folder = Path(sqlite_book).parent
    before = sorted(path.name for path in folder.iterdir())
    for url in (f"{sqlite_book}?mode=ro", f"sqlite:///{sqlite_book}?mode=ro"):
        for args in (["find", "x"], ["init"]):
            code, _, err = crm(url, *args)
            assert_sentence(code, err, {2})
    assert sorted(path.name for path in folder.iterdir()) == before


# --- values accepted though wrong --------------------------------------------------------------


@pytest.mark.parametrize("written", ["1,2,3", "١٢٣", "12,34", "1,2345", "1_000", "１,２,３",
                                     "१२३", "1e3", "--5", "1.2.3"])
def test_amounts_that_are_not_written_as_amounts_are_refused(written):
    with pytest.raises(ValidationError):
        validate.amount(written)


@pytest.mark.parametrize(("written", "value"), [("1,234.50", "1234.50"), ("¥1,234", "1234.00"),
                                                ("１２３", "123.00"), ("0.5", "0.50")])
def test_amounts_as_people_write_them(written, value):
    assert validate.amount(written) == Decimal(value)


def test_a_deal_amount_with_misplaced_commas_is_exit_2(book):
    code, _, err = crm(book, "deal", "add", "Bounds Test Co", "Order", "1,2,3")
    assert_sentence(code, err, {2})


@pytest.mark.parametrize("value", ["a\x1bb", "x" * 131_000, "ok,\u202eevil", "a\u200bb",
                                   ",".join(str(n) for n in range(60))])
def test_rule_values_with_controls_or_absurd_lengths_are_refused(value):
    with pytest.raises(ValidationError):
        parse_rule("release_reasons", value)


@pytest.mark.parametrize("value", ["١٢", "1_0", "9" * 40, "-1"])
def test_whole_number_rules_take_ascii_digits_only(value):
    with pytest.raises(ValidationError):
        parse_rule("private_cap", value)


def test_rules_set_with_escape_or_huge_value_is_exit_2(book):
    for value in ("a\x1b[31mb", "x" * 131_000):
        code, _, err = crm(book, "rules", "--set", f"release_reasons={value}")
        assert_sentence(code, err, {2})
        assert len(err) < 400


# --- identity inside a user namespace ----------------------------------------------------------


def _namespace(uid_map: str | None, initial: bool = False):
    return lambda: config.UserNamespace(initial=initial, uid_map=uid_map)


def test_initial_namespace_is_the_uid_itself():
    assert config.os_uid(_namespace(None, initial=True)) == os.getuid()


def test_a_namespace_maps_back_to_the_account_whose_home_is_ours():
    outside = os.getuid() + 1000 if os.getuid() else 0
    try:
        import pwd

        pwd.getpwuid(outside)
    except KeyError:
        pytest.skip(f"no account {outside} here")
    inside = os.getuid()
    mapping = f"{inside} {outside} 1\n"
    assert config.os_uid(_namespace(mapping), owner_of=lambda _path: inside) == outside


@pytest.mark.parametrize("uid_map", [None, "", "garbage", "5000 0 1\n"])
def test_a_namespace_whose_map_does_not_cover_us_is_refused(uid_map):
    with pytest.raises(RuleRefused, match="user namespace"):
        config.os_uid(_namespace(uid_map), owner_of=lambda _path: os.getuid())


def test_a_nested_or_forged_map_naming_someone_else_is_refused():
    """The map names uid 0 (or anyone) outside, but that account's home is not ours: from in
    here it shows as another owner (the overflow uid), so crm refuses."""
    mapping = f"{os.getuid()} 0 1\n"
    with pytest.raises(RuleRefused, match="user namespace"):
        config.os_uid(_namespace(mapping), owner_of=lambda _path: 65534)


@pytest.mark.skipif(not shutil.which("unshare") or not Path("/proc/self/uid_map").exists(),
                    reason="needs unshare and /proc")
def test_a_real_unshare_run_acts_as_the_account_outside(sqlite_book):
    probe = subprocess.run(["unshare", "-r", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("user namespaces are not allowed here")
    login = config.os_login()
    done = subprocess.run(["unshare", "-r", sys.executable, "-c",
                           "from crm_tui import config; print(config.os_login())"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == login
    done = subprocess.run(["unshare", "-r", CRM, "--db", sqlite_book, "find", "--json", "x"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# --- the property: no argument at or beyond a bound ends in exit 1 ----------------------------


BOUNDARY_INTS = [0, 1, MAX_ID, MAX_ID + 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64,
                 10**30, 36_500, 36_501, 1_000_000, 1_000_001, 10_000_000, 10_000_001]
numbers = st.one_of(st.sampled_from(BOUNDARY_INTS), st.integers(min_value=-(2**70),
                                                                max_value=2**70))
dates = st.one_of(
    st.sampled_from(["0001-01-01", "1899-12-31", "1900-01-01", "9998-12-31", "9999-12-31",
                     "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+14:00", "+9999d",
                     "+9999w", "2026-02-30", "today"]),
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.dates().map(lambda day: day.isoformat()),
)


@st.composite
def commands(draw: st.DrawFn) -> list[str]:
    number = str(draw(numbers))
    if draw(st.booleans()):
        number = draw(st.sampled_from(["#" + number, number + "²", "١٢٣", "²", " " + number]))
    kind = draw(st.sampled_from(["show", "claim", "lock", "release", "log", "log-at", "log-next",
                                 "deal-stage", "deal-add", "find", "due", "due-limit",
                                 "transfer", "contact", "deal-list"]))
    if kind == "log-at":
        return ["log", "Bounds Test Co", "called", "--at", draw(dates)]
    if kind == "log-next":
        return ["log", "Bounds Test Co", "called", "--next", draw(dates)]
    if kind == "deal-add":
        return ["deal", "add", number, "Order", "100", "--close", draw(dates)]
    return {
        "show": ["show", number], "claim": ["claim", number], "lock": ["lock", number],
        "release": ["release", number, "--reason", "other"], "log": ["log", number, "hi"],
        "deal-stage": ["deal", "stage", number, "won"], "find": ["find", "--limit", number, "x"],
        "due": ["due", "--days", number], "due-limit": ["due", "--limit", number],
        "transfer": ["transfer", "--from", "demo.alice", "--to", "demo.bob", number],
        "contact": ["contact", "edit", number, "--name", "X"],
        "deal-list": ["deal", "list", "--limit", number],
    }[kind]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(args=commands())
def test_no_argument_at_or_beyond_a_bound_is_exit_1(book, args):
    code, _, err = crm(book, *args)
    assert code != 1, (args, err)
    assert "unexpected error" not in err, (args, err)
