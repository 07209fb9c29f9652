"""The ``crm`` console script: bare ``crm`` opens the TUI without loading the Typer CLI.

Typer and the command modules cost about a tenth of a second that the TUI's first frame should
not pay (DESIGN §9); anything beyond the global options goes to ``crm_tui.cli.app``.
"""

from __future__ import annotations

import sys


def tui_options(args: list[str]) -> tuple[str | None, str | None] | None:
    """``(db, as_login)`` when ``args`` hold only the global options, else None."""
    values: dict[str, str | None] = {"--db": None, "--as": None}
    index = 0
    while index < len(args):
        arg = args[index]
        name, sep, value = arg.partition("=")
        if name not in values:
            return None
        if not sep:
            index += 1
            if index >= len(args):
                return None
            value = args[index]
        values[name] = value
        index += 1
    return values["--db"], values["--as"]


def main() -> None:
    options = tui_options(sys.argv[1:])
    if options is None:
        from crm_tui.cli.app import main as cli_main

        cli_main()
        return
    db, as_login = options
    import gc

    # Paused while the app's modules load and its first screen fills; CrmApp.first_rows_shown
    # starts it again. Collections during imports find no garbage and cost ~10% of the start.
    gc.disable()
    # The app's database reads run in threads that give up the GIL on every SQLite step and
    # fetch; with the default 5 ms switch interval each wants it back behind the screen's
    # rendering for up to 5 ms (the convoy effect). Measured on the 1M book: key 4 to the
    # dashboard's figures 1.18 s -> 0.80 s for an admin.
    sys.setswitchinterval(0.0005)
    from crm_tui.config import resolve_database
    from crm_tui.tui.launch import launch, load_shared_modules, start_store_helper

    try:
        url = resolve_database(db)
        load_shared_modules()
        # Forked before Textual or SQLAlchemy loads: the helper imports SQLAlchemy and opens the
        # store on the other core while this process imports Textual.
        helper = start_store_helper(url, as_login)
        launch(url, as_login, helper)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the contract: one sentence, never a traceback
        # Imported only now: importing the store package up front would load SQLAlchemy
        # before the first frame.
        from crm_tui.store.errors import CrmError

        if isinstance(exc, CrmError):
            print(f"crm: {exc}", file=sys.stderr)
            sys.exit(exc.exit_code)
        print(f"crm: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
