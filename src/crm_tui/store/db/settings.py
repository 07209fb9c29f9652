"""Reading and writing the ``setting`` table: the rules (``team/settings.py`` names them) and the
app's own bookkeeping (``state.*`` keys)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from crm_tui.store.db.session import Session
from crm_tui.store.schema.tables import setting as setting_t
from crm_tui.store.team import settings as rules_mod


class Settings(Session):
    """The rules as values, and the one writer of a setting."""

    def rules(self, conn: Connection | None = None) -> dict[str, Any]:
        """Every rule of ``rules.RULES`` with its current value (defaults where unset)."""
        if conn is None:
            with self.read() as own:
                return self.rules(own)
        return rules_mod.rule_values(conn.execute(select(setting_t.c.key, setting_t.c.value)))

    def rule(self, conn: Connection, key: str) -> Any:
        """One rule's current value (its default where unset)."""
        raw = conn.execute(select(setting_t.c.value).where(setting_t.c.key == key)).scalar()
        if raw is None:
            return rules_mod.RULES[key].default
        return rules_mod.decode(key, raw)

    def _put_setting(self, conn: Connection, key: str, value: Any) -> None:
        """Write one setting (a rule or ``state.*``) as an upsert, so two transactions writing
        the same new key at once both succeed instead of one failing on the primary key."""
        encoded = rules_mod.encode(value)
        if self.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert as upsert
        else:
            from sqlalchemy.dialects.postgresql import insert as upsert  # type: ignore[assignment]  # the two dialects' inserts share this API
        statement = upsert(setting_t).values(key=key, value=encoded)
        conn.execute(statement.on_conflict_do_update(index_elements=[setting_t.c.key],
                                                     set_={"value": encoded}))
