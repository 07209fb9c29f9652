"""Settings and identity: which database, who is acting.

The database comes from ``--db``, else ``CRM_DATABASE_URL``, else the config file, else the
SQLite file in the platformdirs data directory. The acting rep is the operating-system account
(``pwd.getpwuid(os.getuid())``) — never ``USER``, ``LOGNAME`` or any variable a user can set — or,
on PostgreSQL, the database role ``current_user``. ``--as`` is honoured for admins only.

Inside a Linux user namespace (``unshare -r`` makes anyone uid 0 there) the uid is not the
person: it is mapped back through ``/proc/self/uid_map`` to the account outside, and that
account is believed only when its home directory is owned, as seen from inside, by this process
(only the account's own kernel uid shows so); otherwise crm refuses to run (``os_uid``).
"""

from __future__ import annotations

import os
import pwd
import tomllib
from collections.abc import Callable
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
    """The config file's settings; a file that cannot be read, or a value of the wrong type,
    is a ``UsageError`` naming the file and the key (exit 2)."""
    from crm_tui.store.errors import UsageError

    path = path or config_file()
    if not path.is_file():
        return Settings()
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"The config file {path} cannot be read: {exc}.") from None

    def text(key: str) -> str | None:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise UsageError(f"The config file {path}: {key} must be text in quotes, "
                             f"not {value!r}.")
        return value

    start_screen = text("start_screen")
    if start_screen is not None and start_screen not in START_SCREENS:
        raise UsageError(
            f"The config file {path}: start_screen must be one of {', '.join(START_SCREENS)}, "
            f"not {start_screen!r}."
        )
    keymap = raw.get("keymap", {})
    if not isinstance(keymap, dict) or not all(
        isinstance(key, str) and isinstance(keys, str) for key, keys in keymap.items()
    ):
        raise UsageError(f"The config file {path}: keymap must be a table of binding = \"keys\" "
                         "lines, such as claim = \"c\".")
    return Settings(
        database=text("database"),
        keymap=dict(keymap),
        theme=text("theme"),
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


INITIAL_USER_NAMESPACE = 0xEFFFFFFD
"""The inode of the initial user namespace's ``/proc/*/ns/user`` (a constant of Linux)."""
PROC_SUPER_MAGIC = 0x9FA0


@dataclass
class UserNamespace:
    """What this process knows of its user namespace (``read_user_namespace``)."""

    initial: bool
    """Whether it is the host's own (initial) namespace, where uids are what they seem."""
    uid_map: str | None
    """``/proc/self/uid_map`` when it could be read from procfs itself, else None."""


def read_user_namespace() -> UserNamespace:
    """The seam tests replace: this process's user namespace, from ``/proc``.

    Without ``/proc/self/ns/user`` (not Linux) there are no user namespaces. The map is
    believed only from procfs itself: a file bind-mounted over it in a mount namespace is
    not procfs.
    """
    try:
        inode = os.stat("/proc/self/ns/user").st_ino
    except OSError:
        return UserNamespace(initial=True, uid_map=None)
    if inode == INITIAL_USER_NAMESPACE:
        return UserNamespace(initial=True, uid_map=None)
    try:
        fd = os.open("/proc/self/uid_map", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return UserNamespace(initial=False, uid_map=None)
    try:
        if _filesystem_type(fd) not in (None, PROC_SUPER_MAGIC):
            return UserNamespace(initial=False, uid_map=None)
        return UserNamespace(initial=False, uid_map=os.read(fd, 65536).decode("ascii", "replace"))
    finally:
        os.close(fd)


def _filesystem_type(fd: int) -> int | None:
    """``fstatfs(fd).f_type`` through libc, or None where that cannot be asked."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        buffer = ctypes.create_string_buffer(256)  # struct statfs is 120 bytes on 64-bit Linux
        if libc.fstatfs(fd, buffer) != 0:
            return None
    except (OSError, AttributeError):
        return None
    return ctypes.c_long.from_buffer(buffer).value  # f_type is the first field, a long


def map_uid_outside(uid: int, uid_map: str) -> int | None:
    """``uid`` inside the namespace as the uid outside it, by the lines of ``uid_map``
    (``inside outside count``); None when the map does not cover it or cannot be read."""
    for line in uid_map.splitlines():
        parts = line.split()
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            return None
        inside, outside, count = (int(part) for part in parts)
        if inside <= uid < inside + count:
            return outside + (uid - inside)
    return None


def os_uid(namespace: Callable[[], UserNamespace] | None = None,
           owner_of: Callable[[str], int] | None = None) -> int:
    """The uid of the person running crm, as the host knows them.

    In the initial user namespace that is ``os.getuid()``. Inside another one the uid is
    mapped back through ``uid_map``; the account found is believed only when its home
    directory, seen from here, belongs to this process's uid — a nested namespace or a forged
    map names an account whose files are not ours, and they show as someone else's. Anything
    else is refused (``RuleRefused``, exit 3): crm does not guess who is acting.
    """
    from crm_tui.store.errors import RuleRefused

    view = (namespace or read_user_namespace)()
    uid = os.getuid()
    if view.initial:
        return uid
    refusal = RuleRefused(
        "identity",
        "crm is running inside a user namespace (such as `unshare -r`) where the account "
        "behind it cannot be proven; run crm as yourself, outside the namespace.",
    )
    outside = map_uid_outside(uid, view.uid_map) if view.uid_map is not None else None
    if outside is None:
        raise refusal
    try:
        home = pwd.getpwuid(outside).pw_dir
        home_owner = (owner_of or (lambda path: os.stat(path).st_uid))(home)
    except (KeyError, OSError):
        raise refusal from None
    if home_owner != uid:
        raise refusal
    return outside


def os_login() -> str:
    """The operating-system account running this process (not an environment variable)."""
    return pwd.getpwuid(os_uid()).pw_name


def os_full_name() -> str:
    gecos = pwd.getpwuid(os_uid()).pw_gecos.split(",")[0].strip()
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
