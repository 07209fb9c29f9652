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
        raise fail(f"crm: unexpected error: {type(exc).__name__}: {exc}", EXIT_ERROR) from None


def run(ctx: typer.Context, action: Callable[[Context], T]) -> T:
    """Run ``action`` with the resolved context, mapping errors to exit codes."""
    context = state(ctx)
    with user_errors():
        try:
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
from crm_tui.cli.commands import core, deals, editing, files, sea, stats  # noqa: E402,F401


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="crm")
    except KeyboardInterrupt:
        typer.echo("crm: interrupted", err=True)
        exit_now(130)
    except SystemExit as done:  # Typer ends every command this way, with its exit code
        code = done.code
        if code is None or isinstance(code, int):
            exit_now(code or 0)
        raise
    exit_now(0)


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
