"""Settings and identity: which database, who is acting.

The database comes from ``--db``, else ``CRM_DATABASE_URL``, else the config file, else the
SQLite file in the platformdirs data directory. The acting rep is the operating-system account
(``pwd.getpwuid(os.getuid())``) — never ``USER``, ``LOGNAME`` or any variable a user can set — or,
on PostgreSQL, the database role ``current_user``. ``--as`` is honoured for admins only.
"""

from __future__ import annotations

import os
import pwd
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm_tui.store import Actor, Store

APP_NAME = "crm-tui"
DATABASE_ENV = "CRM_DATABASE_URL"
CONFIG_ENV = "CRM_CONFIG"


def data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def config_file() -> Path:
    """The config file; the one seam tests patch (or point ``CRM_CONFIG`` at a file)."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


START_SCREENS = ("due", "customers", "open_sea", "dashboard")
"""The values ``start_screen`` may take: the app's modes (keys 2, 1, 3, 4)."""


@dataclass
class Settings:
    """What the config file may set."""

    database: str | None = None
    """Database URL or SQLite path, used when neither --db nor CRM_DATABASE_URL is given."""
    keymap: dict[str, str] = field(default_factory=dict)
    """Binding id -> keys, applied with ``App.set_keymap``."""
    theme: str | None = None
    """Textual theme name."""
    start_screen: str | None = None
    """The screen ``crm`` opens on: due (the default, *Due today*), customers, open_sea or
    dashboard."""


def load_settings(path: Path | None = None) -> Settings:
    path = path or config_file()
    if not path.is_file():
        return Settings()
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        from crm_tui.store.errors import UsageError

        raise UsageError(f"The config file {path} cannot be read: {exc}.") from None
    start_screen = raw.get("start_screen")
    if start_screen is not None and start_screen not in START_SCREENS:
        from crm_tui.store.errors import UsageError

        raise UsageError(
            f"The config file {path}: start_screen must be one of {', '.join(START_SCREENS)}, "
            f"not {start_screen!r}."
        )
    return Settings(
        database=raw.get("database"),
        keymap=dict(raw.get("keymap", {})),
        theme=raw.get("theme"),
        start_screen=start_screen,
    )


def default_database() -> str:
    return str(data_dir() / "crm.db")


def resolve_database(cli_value: str | None = None, settings: Settings | None = None) -> str:
    """The database URL by the order of DESIGN §7."""
    if cli_value:
        return cli_value
    env = os.environ.get(DATABASE_ENV)
    if env:
        return env
    settings = settings or load_settings()
    if settings.database:
        return settings.database
    return default_database()


def os_login() -> str:
    """The operating-system account running this process (not an environment variable)."""
    return pwd.getpwuid(os.getuid()).pw_name


def os_full_name() -> str:
    gecos = pwd.getpwuid(os.getuid()).pw_gecos.split(",")[0].strip()
    return gecos or os_login()


def acting_login(store: Store) -> str:
    """The login the store should act as: PostgreSQL's current_user, else the OS account."""
    return store.database_user() or os_login()


def resolve_actor(store: Store, as_login: str | None = None) -> Actor:
    """The acting rep; ``as_login`` only for admins, and audited."""
    actor = store.actor(acting_login(store))
    if as_login and as_login != actor.login:
        return store.impersonate(actor, as_login)
    return actor
