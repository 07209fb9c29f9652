"""Writes ``tables.py``, the Core twin of the SQLModel models, from the models themselves.

The models in ``models.py`` are the one source of the schema. The store's queries run on plain
Core tables so that opening a store imports neither SQLModel nor pydantic (DESIGN §9, §11);
rather than keep that twin by hand, this module renders it from the models' metadata::

    python -m crm_tui.store.schema.generate_tables           # rewrite tables.py
    python -m crm_tui.store.schema.generate_tables --check   # exit 1 if tables.py is stale

``tests/test_migrations.py`` fails, naming the command, when the committed file differs from
what this renders. Adding a table is therefore one model in ``models.py`` and one migration:
``python -m crm_tui.store.schema.new_migration "add ticket"`` runs this command, drafts the
migration and moves ``version.SCHEMA_HEAD``; ``alembic check`` in the same test module holds
the migrations to the models.

The twin carries what the database holds: columns, types, keys, nullability, server defaults,
indexes and constraints. Python-side defaults stay the models' (the store writes every value).
A construct this renderer does not know stops it with a message, never a silent difference.
"""

from __future__ import annotations

import argparse
import difflib
import keyword
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
)
from sqlalchemy.sql.elements import TextClause, conv

TABLES_PATH = Path(__file__).with_name("tables.py")
COMMAND = "python -m crm_tui.store.schema.generate_tables"

HEADER = f'''"""The tables as SQLAlchemy Core objects: what the store's queries run on.

Generated from ``models.py`` by ``{COMMAND}``; do not edit.
The models are the schema's one source; this twin exists so that opening a store (the path to
the TUI's first rows and to ``crm find``) imports neither SQLModel, pydantic nor SQLAlchemy's ORM
(about a fifth of a second of start-up, DESIGN §9 and §11). ``tests/test_migrations.py`` fails
when this file is not what the command writes.
"""
'''


class UnrenderableSchema(Exception):
    """A model uses a construct the generator cannot yet write as Core."""


def render(metadata: MetaData | None = None) -> str:
    """The source of ``tables.py`` for ``metadata`` (by default the models')."""
    if metadata is None:
        from crm_tui.store.schema.models import metadata as models_metadata

        metadata = models_metadata
    imports: set[tuple[str, str]] = {("sqlalchemy", "MetaData"), ("sqlalchemy", "Table"),
                                     ("sqlalchemy", "Column")}
    bodies = [_table(table, imports) for table in metadata.sorted_tables]
    first_party = sorted(name for module, name in imports if module == _CORE_TYPES)
    first_party.insert(0, "NAMING_CONVENTION")
    lines = [HEADER, "from sqlalchemy import ("]
    lines += [f"    {name}," for name in _isort(name for module, name in imports
                                                   if module == "sqlalchemy")]
    lines.append(")")
    for module in sorted({module for module, _ in imports} - {"sqlalchemy", _CORE_TYPES}):
        names = ", ".join(_isort(name for mod, name in imports if mod == module))
        lines.append(f"from {module} import {names}")
    lines += ["", f"from {_CORE_TYPES} import {', '.join(_isort(first_party))}", "",
              "metadata = MetaData(naming_convention=NAMING_CONVENTION)"]
    for body in bodies:
        lines += ["", "", body]
    return "\n".join(lines) + "\n"


_CORE_TYPES = "crm_tui.store.schema.core_types"


def _isort(names: Iterable[str]) -> list[str]:
    """Names in the order ruff's isort keeps them: CONSTANTS, Classes, functions."""
    return sorted(set(names), key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))


def _table(table: Table, imports: set[tuple[str, str]]) -> str:
    if not table.name.isidentifier() or keyword.iskeyword(table.name):
        raise UnrenderableSchema(f"table {table.name!r} is not a Python name")
    if table.schema is not None:
        raise UnrenderableSchema(f"table {table.name!r}: a schema ({table.schema}) is not rendered")
    items = [_column(column, imports) for column in table.columns]
    extra = []
    for constraint in table.constraints:
        if isinstance(constraint, PrimaryKeyConstraint):
            continue  # rendered as primary_key=True on its columns
        if isinstance(constraint, ForeignKeyConstraint) and len(constraint.columns) == 1:
            continue  # rendered as ForeignKey on its column
        if isinstance(constraint, UniqueConstraint) and getattr(constraint, "_column_flag", False):
            continue  # rendered as unique=True on its column
        extra.append(_constraint(table, constraint, imports))
    for index in table.indexes:
        if getattr(index, "_column_flag", False):
            continue  # rendered as index=True on its column
        extra.append(_index(table, index, imports))
    items += sorted(extra)
    lines = [f"{table.name} = Table(", f"    {_quote(table.name)},", "    metadata,"]
    lines += [f"    {item}," for item in items]
    lines.append(")")
    return "\n".join(lines)


def _column(column: Column[Any], imports: set[tuple[str, str]]) -> str:
    where = f"{column.table.name}.{column.name}"
    if column.key != column.name:
        raise UnrenderableSchema(f"{where}: a column key other than its name is not rendered")
    if column.comment:
        raise UnrenderableSchema(f"{where}: column comments are not rendered")
    parts = [_quote(column.name), _type(where, column.type, imports)]
    for foreign_key in column.foreign_keys:
        imports.add(("sqlalchemy", "ForeignKey"))
        options = [_quote(foreign_key.target_fullname)]
        options += _name_option(foreign_key.name, "fk", column.table, imports)
        if foreign_key.ondelete:
            options.append(f"ondelete={_quote(foreign_key.ondelete)}")
        if foreign_key.onupdate:
            options.append(f"onupdate={_quote(foreign_key.onupdate)}")
        parts.append(f"ForeignKey({', '.join(options)})")
    if column.primary_key:
        parts.append("primary_key=True")
        if column.nullable:
            parts.append("nullable=True")
    elif not column.nullable:
        parts.append("nullable=False")
    if column.autoincrement != "auto":
        parts.append(f"autoincrement={column.autoincrement!r}")
    if column.unique:
        parts.append("unique=True")
    if column.index:
        parts.append("index=True")
    if column.server_default is not None:
        parts.append(f"server_default={_server_default(where, column.server_default, imports)}")
    if column.server_onupdate is not None:
        raise UnrenderableSchema(f"{where}: server_onupdate is not rendered")
    return f"Column({', '.join(parts)})"


def _type(where: str, type_: Any, imports: set[tuple[str, str]]) -> str:
    from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

    if isinstance(type_, UTCDateTime):
        imports.add((_CORE_TYPES, "AwareDateTime"))
        return "AwareDateTime()"
    if isinstance(type_, AutoString):
        imports.add(("sqlalchemy", "String"))
        return f"String({type_.length})" if type_.length else "String()"
    cls = type(type_)
    if not cls.__module__.startswith("sqlalchemy."):
        raise UnrenderableSchema(f"{where}: no Core rendering for the type {cls.__qualname__}")
    module = "sqlalchemy" if getattr(sqlalchemy, cls.__name__, None) is cls else cls.__module__
    imports.add((module, cls.__name__))
    return repr(type_)


def _server_default(where: str, default: Any, imports: set[tuple[str, str]]) -> str:
    arg = getattr(default, "arg", None)
    if isinstance(arg, str):
        return _quote(arg)
    if isinstance(arg, TextClause):
        imports.add(("sqlalchemy", "text"))
        return f"text({_quote(arg.text)})"
    raise UnrenderableSchema(f"{where}: the server default {default!r} is not rendered")


def _name_option(name: Any, kind: str, table: Table, imports: set[tuple[str, str]]) -> list[str]:
    """``name=`` for a constraint's name, or nothing where the naming convention derives it.

    A name the convention built from the columns is left to the convention again; one built
    from a given name (``%(constraint_name)s``) is written already converted, as ``conv(...)``.
    """
    if not isinstance(name, str):
        return []
    if not isinstance(name, conv):
        return [f"name={_quote(name)}"]
    if "%(constraint_name)s" in str(table.metadata.naming_convention.get(kind, "")):
        imports.add(("sqlalchemy.sql.elements", "conv"))
        return [f"name=conv({_quote(str(name))})"]
    return []


def _constraint(table: Table, constraint: Any, imports: set[tuple[str, str]]) -> str:
    if isinstance(constraint, UniqueConstraint):
        imports.add(("sqlalchemy", "UniqueConstraint"))
        parts = [_quote(c.name) for c in constraint.columns]
        parts += _name_option(constraint.name, "uq", table, imports)
        return f"UniqueConstraint({', '.join(parts)})"
    if isinstance(constraint, CheckConstraint):
        imports.add(("sqlalchemy", "CheckConstraint"))
        parts = [_quote(str(constraint.sqltext))]
        parts += _name_option(constraint.name, "ck", table, imports)
        return f"CheckConstraint({', '.join(parts)})"
    raise UnrenderableSchema(f"{table.name}: no Core rendering for {constraint!r}")


def _index(table: Table, index: Index, imports: set[tuple[str, str]]) -> str:
    if len(index.expressions) != len(index.columns):
        raise UnrenderableSchema(f"{table.name}: index {index.name} on expressions is not rendered")
    if index.dialect_kwargs:
        raise UnrenderableSchema(f"{table.name}: index {index.name} has dialect options")
    imports.add(("sqlalchemy", "Index"))
    named = _name_option(index.name, "ix", table, imports)
    parts = [named[0].removeprefix("name=") if named else "None"]
    parts += [_quote(c.name) for c in index.columns]
    if index.unique:
        parts.append("unique=True")
    return f"Index({', '.join(parts)})"


def _quote(text: str) -> str:
    """A Python string literal in double quotes (the house style)."""
    literal = repr(str(text))
    if literal.startswith("'") and '"' not in text:
        literal = '"' + literal[1:-1].replace("\\'", "'") + '"'
    return literal


def stale_diff(path: Path = TABLES_PATH) -> list[str]:
    """The unified diff from the committed ``tables.py`` to what the models give; empty when equal."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    wanted = render()
    if current == wanted:
        return []
    return list(difflib.unified_diff(current.splitlines(keepends=True), wanted.splitlines(keepends=True),
                                     "tables.py (committed)", "tables.py (from models.py)"))


def main(argv: list[str] | None = None) -> int:
    """Rewrite ``tables.py``, or with ``--check`` report whether it is stale (exit 1)."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 with a diff if tables.py is stale")
    args = parser.parse_args(argv)
    if args.check:
        diff = stale_diff()
        if diff:
            sys.stdout.writelines(diff)
            print(f"\ntables.py is stale: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    TABLES_PATH.write_text(render(), encoding="utf-8", newline="\n")
    print(f"wrote {TABLES_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
