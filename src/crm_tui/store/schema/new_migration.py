"""Drafts the next migration from the models, so a schema change is one model and one command::

    python -m crm_tui.store.schema.new_migration "add ticket"

It rewrites ``tables.py`` from the models (``generate_tables``), builds a scratch SQLite
database at the current head, lets Alembic's autogenerate compare it with the models and write
``migrations/versions/NNNN_<message>.py`` (the next number), and moves ``version.SCHEMA_HEAD``
to it. Review the draft before committing: autogenerate cannot see hand-made objects such as the
search index (``migrations/env.py`` lists them) or data that has to move. ``tests/test_migrations.py``
then holds the three together: the generated twin, ``alembic check`` on both backends, the head.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

VERSION_PATH = Path(__file__).with_name("version.py")


def main(argv: list[str] | None = None) -> int:
    """Write the twin, the migration draft and the new head; print the draft's path."""
    from alembic import command

    from crm_tui.store.db.engine import make_engine
    from crm_tui.store.schema import generate_tables, migrate
    from crm_tui.store.schema.version import SCHEMA_HEAD

    parser = argparse.ArgumentParser(prog="python -m crm_tui.store.schema.new_migration",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("message", help="what the migration does, e.g. 'add ticket'")
    args = parser.parse_args(argv)

    generate_tables.main([])
    revision = f"{int(SCHEMA_HEAD) + 1:04d}"
    with tempfile.TemporaryDirectory(prefix="crm-new-migration-") as scratch:
        engine = make_engine(str(Path(scratch) / "head.db"), create=True)
        try:
            migrate.upgrade(engine=engine)
            with engine.connect() as conn:
                script = command.revision(migrate._config(conn), message=args.message,
                                          autogenerate=True, rev_id=revision)
        finally:
            engine.dispose()
    source = VERSION_PATH.read_text(encoding="utf-8")
    moved = re.sub(r'^SCHEMA_HEAD = "\d+"', f'SCHEMA_HEAD = "{revision}"', source, count=1,
                   flags=re.MULTILINE)
    VERSION_PATH.write_text(moved, encoding="utf-8", newline="\n")
    written = [item.path for item in (script if isinstance(script, list) else [script]) if item]
    print(f"wrote {', '.join(written)} (review it); SCHEMA_HEAD is now {revision}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
