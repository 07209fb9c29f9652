"""The ``crm`` command (DESIGN §7).

Only Typer is imported at start; each command imports the store (and heavier libraries such as
openpyxl or Alembic) when it runs, so quick lookups stay quick. Errors are one sentence on
stderr with the exit codes 0 ok, 1 unexpected, 2 usage, 3 refused by a rule, 4 not found.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from crm_tui.i18n import _

if TYPE_CHECKING:
    from crm_tui.store import Actor, Store

app = typer.Typer(
    name="crm",
    help=_("A customer relationship manager for sales teams that lives in the terminal."),
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help=_("Apply or show database migrations."), no_args_is_help=True)
reps_app = typer.Typer(help=_("The team: list, add, deactivate reps."), no_args_is_help=True)
deal_app = typer.Typer(help=_("The pipeline: list deals, add them, move their stage."),
                       no_args_is_help=True)
contact_app = typer.Typer(help=_("The people at a customer: add and edit contacts."),
                          no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(reps_app, name="reps")
app.add_typer(deal_app, name="deal")
app.add_typer(contact_app, name="contact")

T = TypeVar("T")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_REFUSED, EXIT_NOT_FOUND = 0, 1, 2, 3, 4


@dataclass
class Context:
    """Global options, resolved lazily so commands that do not need the store never open it."""

    db: str | None = None
    as_login: str | None = None
    _store: Store | None = None
    _actor: Actor | None = None

    @property
    def url(self) -> str:
        from crm_tui.config import resolve_database

        return resolve_database(self.db)

    @property
    def store(self) -> Store:
        if self._store is None:
            from crm_tui.store import open_store

            self._store = open_store(self.url)
        return self._store

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            from crm_tui.config import resolve_actor

            self._actor = resolve_actor(self.store, self.as_login)
        return self._actor

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def state(ctx: typer.Context) -> Context:
    root = ctx.find_root()
    if not isinstance(root.obj, Context):
        root.obj = Context()
    return root.obj


def fail(message: str, code: int) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn store errors into one sentence on stderr and the contract's exit code."""
    from crm_tui.store.errors import CrmError

    try:
        yield
    except CrmError as exc:
        raise fail(f"crm: {exc}", exc.exit_code) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - the contract: no traceback reaches a user
        import logging

        logging.getLogger("crm").debug("unexpected error", exc_info=True)
        known = known_failure(exc)
        if known is not None:
            raise fail(f"crm: {known[0]}", known[1]) from None
        raise fail(f"crm: unexpected error: {type(exc).__name__}: {exc}", EXIT_ERROR) from None


def known_failure(exc: BaseException) -> tuple[str, int] | None:
    """One sentence and an exit code for failures that are the input's or the file's, not a
    bug: a number or date beyond what can be stored, a file that is not a database, a value the
    database refused. Never the SQL statement nor a link (DESIGN §7)."""
    if isinstance(exc, OverflowError):
        return f"a number or date is out of range ({exc}).", EXIT_USAGE
    if isinstance(exc, OSError) and exc.errno is not None:
        import errno

        where = f" {exc.filename!r}" if exc.filename else ""
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENAMETOOLONG:
            return f"the file name{where} is too long.", EXIT_USAGE
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return f"there is no file{where} ({reason}).", EXIT_NOT_FOUND
        return f"the file{where} cannot be used: {reason}.", EXIT_USAGE
    import sqlite3

    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.DBAPIError | sqlite3.DatabaseError):
        original = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
        first = (str(original).strip().splitlines() or [type(original).__name__])[0].rstrip(".")
        if isinstance(exc, sa_exc.DataError):
            return f"the database refused a value: {first}.", EXIT_USAGE
        if isinstance(exc, sa_exc.IntegrityError):
            return f"the database refused the change: {first}.", EXIT_REFUSED
        lowered = first.lower()
        if "not a database" in lowered or "malformed" in lowered or "no such table" in lowered:
            return (f"the database file is damaged or not a crm database ({first}); "
                    "check --db, or restore it from a backup."), EXIT_USAGE
        if "unable to open database" in lowered or "readonly database" in lowered:
            return (f"the database cannot be opened ({first}): SQLite writes beside the file, in "
                    "its -wal and -shm files, even to read; check that you may write the file "
                    "and its folder."), EXIT_USAGE
        return f"the database reported: {first}.", EXIT_USAGE
    return None


MAX_ID = 2**31 - 1
"""The largest id any record can have (ids are 32-bit integers on PostgreSQL)."""
MAX_LIMIT = 1_000_000
MAX_DAYS = 36_500
MAX_DEMO = 10_000_000

_ID_PARAMETERS = {"customer": "customer", "customers": "customer", "deal": "deal",
                  "contact": "contact", "into": "customer", "other": "customer"}
"""Command parameters that take ids (or names), by their Python name: the noun for a sentence."""
_BOUNDS = {"limit": ("--limit", 1, MAX_LIMIT), "days": ("--days", 0, MAX_DAYS),
           "demo": ("--demo", 0, MAX_DEMO)}
"""Numeric options by their Python name: (option, least, most)."""


def check_bounds(params: dict[str, Any]) -> None:
    """Refuse numbers no record or query can have, before the store sees them.

    An id beyond ``MAX_ID`` names nothing (exit 4, as any missing record); a limit, a number of
    days or of demo customers beyond its bound is a usage error (exit 2). Without this a huge
    number reached the database driver and ended as an unexpected error (issue 22, item 10).
    """
    from crm_tui.store.errors import NotFound, UsageError

    for name, value in params.items():
        noun = _ID_PARAMETERS.get(name)
        if noun is not None:
            for ref in value if isinstance(value, list | tuple) else [value]:
                if isinstance(ref, str) and _looks_like_foreign_digits(ref):
                    raise UsageError(f"{ref!r} is not a {noun} id: write ids in the digits "
                                     "0 to 9.")
                number = _as_id(ref)
                if number is not None and not 0 < number <= MAX_ID:
                    raise NotFound(f"There is no {noun} {number}.")
        bound = _BOUNDS.get(name)
        if bound is not None and isinstance(value, int) and not isinstance(value, bool):
            option, least, most = bound
            if not least <= value <= most:
                raise UsageError(f"{option} must be between {least:,} and {most:,}, "
                                 f"not {value:,}.")


def _looks_like_foreign_digits(ref: str) -> bool:
    """Digits other than 0-9 (``²``, ``١٢٣``): Python's ``isdigit`` takes them for an id, and
    ``int()`` then fails or reads ``١٢٣`` as 123."""
    digits = ref.strip().lstrip("#")
    return digits.isdigit() and not (digits.isascii() and digits.isdecimal())


def _as_id(ref: object) -> int | None:
    """``ref`` as an id when it is one (an int, or digits with an optional ``#``), else None."""
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ref
    if isinstance(ref, str):
        digits = ref.strip().lstrip("#")
        if digits.isdecimal() and digits.isascii():
            return int(digits)
    return None


def run(ctx: typer.Context, action: Callable[[Context], T]) -> T:
    """Run ``action`` with the resolved context, mapping errors to exit codes."""
    context = state(ctx)
    with user_errors():
        try:
            check_bounds(ctx.params)
            return action(context)
        finally:
            context.close()


def emit_json(data: Any) -> None:
    from crm_tui.store.records import jsonable

    typer.echo(json.dumps(jsonable(data), ensure_ascii=False, indent=2))


def console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def plain(text: object) -> Any:
    """User data as a Rich Text: markup and escapes in names are shown, never interpreted."""
    from rich.text import Text

    from crm_tui.present.textsafe import printable

    return Text(printable(text))


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    db: str | None = typer.Option(None, "--db", help=_("Database URL or SQLite file path.")),
    as_login: str | None = typer.Option(None, "--as", help=_("Act as another rep (admins only).")),
) -> None:
    """Open the TUI when no command is given."""
    context = state(ctx)
    context.db = db
    context.as_login = as_login
    if ctx.invoked_subcommand is None:
        from crm_tui.tui.launch import launch

        with user_errors():
            launch(context.url, as_login)


# Command modules register themselves on the apps above.
from crm_tui.cli.commands import (  # noqa: E402,F401
    core,
    deals,
    duplicates,
    editing,
    files,
    sea,
    stats,
)


def main() -> None:
    """Console-script entry point.

    Typer runs without its standalone mode, so a usage error (an unknown option, a missing
    argument, a value of the wrong kind) comes back here and is told as one sentence on stderr
    with exit 2 (``usage_error``), not as Typer's usage block and error box.
    """
    usage, click_error = _click_errors()
    try:
        code = app(prog_name="crm", standalone_mode=False)
    except KeyboardInterrupt:
        typer.echo("crm: interrupted", err=True)
        exit_now(130)
    except usage as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `crm reps`: the group's help, asked for
            exc.show()  # type: ignore[attr-defined]  # ClickException.show, on Click's class
        else:
            typer.echo(usage_error(exc), err=True)
        exit_now(EXIT_USAGE)
    except click_error as exc:
        typer.echo(f"crm: {exc}", err=True)
        exit_now(int(getattr(exc, "exit_code", EXIT_ERROR)))
    except typer.Abort:
        typer.echo("crm: aborted.", err=True)
        exit_now(EXIT_ERROR)
    except SystemExit as done:  # a command that ends the process itself, with its exit code
        code = done.code
        if code is None or isinstance(code, int):
            exit_now(code or 0)
        raise
    exit_now(code if isinstance(code, int) else 0)


def _click_errors() -> tuple[type[Exception], type[Exception]]:
    """Click's ``UsageError`` and ``ClickException``, wherever this Typer keeps Click (a
    dependency before 0.16, vendored as ``typer._click`` after)."""
    classes = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
    return classes["UsageError"], classes["ClickException"]


def usage_error(exc: Exception) -> str:
    """A usage error as one sentence naming the help to read: ``crm: No such option: --bogus
    (see 'crm find --help').``"""
    format_message = getattr(exc, "format_message", None)
    message = str(format_message() if callable(format_message) else exc).strip()
    message = " ".join(message.split()).rstrip(".")
    context = getattr(exc, "ctx", None)
    path = getattr(context, "command_path", None) or "crm"
    return f"crm: {message} (see '{path} --help')."


def exit_now(code: int) -> NoReturn:
    """End ``crm`` as soon as its work is done, without tearing the interpreter down.

    By then every transaction has committed and the store is closed (``run``). What normal
    exit would still do is free every module and object one by one — 40–60 ms for SQLAlchemy
    and the store, a third of a quick ``crm find`` — so the exit handlers run (the change
    notifier's flush, logging), the output is flushed, and the process ends. A command that
    left a non-daemon thread running exits the ordinary way, which waits for it.
    """
    if any(thread.is_alive() and not thread.daemon and thread is not threading.main_thread()
           for thread in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (crm find | head) has nothing more to take.
        with suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
