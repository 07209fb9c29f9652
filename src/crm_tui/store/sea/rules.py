"""Changing the rules (DESIGN §4 ``crm rules``, the manager's screen); ``team/settings.py``
names them and their defaults, ``db/settings.py`` reads and writes them."""

from __future__ import annotations

from typing import Any

from crm_tui.store.db.base import StoreBase
from crm_tui.store.errors import PermissionDenied, UsageError
from crm_tui.store.records import Actor
from crm_tui.store.team import settings as rules_mod


class RuleOps(StoreBase):
    """Managers and admins change the rules; every change is validated and audited."""

    def set_rules(self, actor: Actor, values: dict[str, Any]) -> dict[str, Any]:
        """Change settings (managers and admins); each value is validated, each change audited.

        Values may be text as typed (``crm rules --set recycle_after_days=30``) or JSON data.
        Nothing is written unless every value is valid. Returns all rules after the change.
        """
        if not actor.is_manager:
            raise PermissionDenied("Only a manager or an admin may change the rules.")
        if not values:
            raise UsageError("Name at least one setting to change, as KEY=VALUE.")
        parsed = {key.strip(): rules_mod.parse_rule(key.strip(), raw) for key, raw in values.items()}
        with self.write() as conn:
            self._require_active(conn, actor)
            current = self.rules(conn)
            changes = {}
            for key, value in parsed.items():
                if current[key] != value:
                    self._put_setting(conn, key, value)
                    changes[key] = (rules_mod.encode(current[key]), rules_mod.encode(value))
            if changes:
                self._audit(conn, actor, "setting", None, "update", changes)
            return self.rules(conn)
