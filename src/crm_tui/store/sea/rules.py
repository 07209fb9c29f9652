"""Changing the company rules (DESIGN §4 ``crm rules``, the rules screen); ``team/settings.py``
names them, their defaults and who may change them, ``db/settings.py`` reads and writes them.

Only an admin changes them (``may_change_rules``); managers and reps read them. A change that
lowers ``private_cap`` or ``lock_cap`` below what reps already hold is refused until confirmed
(``over_cap_ok``), naming each rep and count, so nobody tightens a cap without seeing whom it
leaves over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from crm_tui.store.db.base import StoreBase, customer_t, rep_t
from crm_tui.store.errors import PermissionDenied, UsageError
from crm_tui.store.records import Actor, Record
from crm_tui.store.team import settings as rules_mod
from crm_tui.store.team.settings import OverCap, OverCapRefused


@dataclass
class RulesPreview(Record):
    """What a change of the rules would do, before it is made."""

    rules: dict[str, Any]
    """Every rule as it would be after the change."""
    changed: list[str]
    """The keys whose value would change."""
    over_cap: list[OverCap]
    """Reps the change would leave holding more than a cap it lowers."""


def _tightens(rule: str, old: int, new: int) -> bool:
    """Whether ``new`` is a stricter value of cap ``rule`` than ``old``. ``private_cap`` 0 means
    no cap (the loosest); ``lock_cap`` 0 means no locking at all (the strictest)."""
    if rule == "private_cap":
        return new != 0 and (old == 0 or new < old)
    return new < old


class RuleOps(StoreBase):
    """Admins change the rules; every change is validated, checked against the caps, audited."""

    def preview_rules(self, actor: Actor, values: dict[str, Any]) -> RulesPreview:
        """What ``set_rules(actor, values)`` would change and whom a lowered cap would leave
        over it; refuses as ``set_rules`` does (permission, invalid values) and writes nothing."""
        parsed = self._parse_change(actor, values)
        with self.read() as conn:
            return self._preview(conn, parsed)

    def set_rules(
        self, actor: Actor, values: dict[str, Any], *, over_cap_ok: bool = False
    ) -> dict[str, Any]:
        """Change company rules (admins only); each value is validated, each change audited.

        Values may be text as typed (``crm rules --set recycle_after_days=30``) or JSON data.
        Nothing is written unless every value is valid. A change that leaves reps holding more
        than a cap it lowers is refused (``OverCapRefused``, naming them) unless
        ``over_cap_ok``. Returns all rules after the change.
        """
        parsed = self._parse_change(actor, values)
        with self.write() as conn:
            self._require_active(conn, actor)
            preview = self._preview(conn, parsed)
            if preview.over_cap and not over_cap_ok:
                raise OverCapRefused(preview.over_cap)
            current = self.rules(conn)
            changes: dict[str, tuple[str | None, str]] = {}
            for key in preview.changed:
                self._put_setting(conn, key, parsed[key])
                changes[key] = (rules_mod.encode(current[key]), rules_mod.encode(parsed[key]))
            if changes:
                if preview.over_cap:
                    changes["over_cap"] = (None, rules_mod.over_cap_sentence(preview.over_cap))
                self._audit(conn, actor, "setting", None, "update", changes)
            return self.rules(conn)

    def _parse_change(self, actor: Actor, values: dict[str, Any]) -> dict[str, Any]:
        """The permission check, then every value parsed (a refusal names the setting)."""
        if not values:
            raise UsageError("Name at least one setting to change, as KEY=VALUE.")
        if not rules_mod.may_change_rules(actor):
            keys = ", ".join(sorted(key.strip() for key in values))
            raise PermissionDenied(
                f"Only an admin may change the company rules ({keys}); managers and reps may "
                "read them."
            )
        return {key.strip(): rules_mod.parse_rule(key.strip(), raw) for key, raw in values.items()}

    def _preview(self, conn: Connection, parsed: dict[str, Any]) -> RulesPreview:
        current = self.rules(conn)
        changed = [key for key, value in parsed.items() if current[key] != value]
        after = dict(current, **{key: parsed[key] for key in changed})
        over: list[OverCap] = []
        for rule in rules_mod.CAP_RULES:
            if rule in changed and _tightens(rule, int(current[rule]), int(after[rule])):
                over += self._reps_over(conn, rule, int(after[rule]))
        return RulesPreview(after, changed, over)

    def _reps_over(self, conn: Connection, rule: str, cap: int) -> list[OverCap]:
        """Active reps holding more than ``cap`` under ``rule``, the most first. Only admins get
        here, and an admin sees every customer, so the counts are whole on PostgreSQL too."""
        held = func.count(customer_t.c.id)
        where = [customer_t.c.owner_id == rep_t.c.id, rep_t.c.active.is_(True)]
        if rule == "lock_cap":
            where.append(customer_t.c.locked.is_(True))
        statement = (
            select(rep_t.c.login, rep_t.c.name, held.label("held"))
            .where(*where)
            .group_by(rep_t.c.id, rep_t.c.login, rep_t.c.name)
            .having(held > cap)
            .order_by(held.desc(), rep_t.c.login)
        )
        return [OverCap(rule, row.login, row.name, int(row.held), cap)
                for row in conn.execute(statement)]
