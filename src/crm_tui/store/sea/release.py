"""Letting customers go and holding on to them: release to the open sea, lock and unlock key
accounts (DESIGN §4)."""

from __future__ import annotations

from sqlalchemy import update

from crm_tui.store import validate
from crm_tui.store.db.base import customer_t
from crm_tui.store.errors import PermissionDenied, RuleRefused
from crm_tui.store.records import Actor, CustomerRecord
from crm_tui.store.sea.moves import Moves


class ReleaseOps(Moves):
    """Release, lock and unlock: what an owner (or their manager) does with their customers."""

    # --- release ------------------------------------------------------------------------------

    def release(self, customer_id: int, actor: Actor, reason: str | None = None) -> CustomerRecord:
        """Return a customer to the open sea, with a reason (required while
        ``require_release_reason`` is on; one of ``release_reasons`` or free text).

        The owner may release, and so may a manager of the owner's team or an admin. The
        customer's planned next follow-up is cleared (it was the old owner's plan); its history
        stays. The releasing rep may not re-claim it within ``reclaim_cooldown_days``.
        """
        cid = customer_id
        clean_reason = validate.text("reason", reason, limit=500)
        with self.write() as conn:
            self._require_active(conn, actor)
            row = self._visible_customer_row(conn, actor, cid)
            if row.owner_id is None:
                raise RuleRefused("open_sea", f"Customer {cid} is already in the open sea.")
            if not self.may_manage(conn, actor, row.owner_id):
                raise PermissionDenied(
                    f"Customer {cid} belongs to {row.owner_login}: only they or a manager of their "
                    "team may release it."
                )
            if clean_reason is None and self.rule(conn, "require_release_reason"):
                choices = ", ".join(self.rule(conn, "release_reasons"))
                raise RuleRefused(
                    "require_release_reason",
                    f"Releasing needs a reason, such as {choices}, or your own words "
                    "(rule require_release_reason).",
                )
            moved = self._to_pool(conn, actor, [cid], row.owner_id, clean_reason, kind="released")
            if not moved:
                # Recycled, transferred or released by someone else since it was read.
                owner = self.customer_owner(conn, cid)
                if owner is not None and owner.owner_id is None:
                    raise RuleRefused("open_sea", f"Customer {cid} is already in the open sea.")
                raise RuleRefused(
                    "taken", f"Customer {cid} changed hands while you released it; nothing was done."
                )
            return self._fresh_record(conn, actor, cid)

    def release_reasons(self) -> list[str]:
        """The pick-list offered when releasing (free text is allowed beside it)."""
        with self.read() as conn:
            return list(self.rule(conn, "release_reasons"))

    # --- lock ---------------------------------------------------------------------------------

    def lock(self, customer_id: int, actor: Actor) -> CustomerRecord:
        """Mark a key account: exempt from recycling, at most ``lock_cap`` per rep (0: none)."""
        return self._set_locked(customer_id, actor, True)

    def unlock(self, customer_id: int, actor: Actor) -> CustomerRecord:
        """Make a key account an ordinary customer again (recycling applies to it)."""
        return self._set_locked(customer_id, actor, False)

    def _set_locked(self, customer_id: int, actor: Actor, locked: bool) -> CustomerRecord:
        verb = "lock" if locked else "unlock"
        with self.write() as conn:
            self._require_active(conn, actor)
            row = self._visible_customer_row(conn, actor, customer_id)
            if row.owner_id is None:
                raise RuleRefused(
                    "open_sea", f"Customer {customer_id} is in the open sea: claim it before you {verb} it."
                )
            if not self.may_manage(conn, actor, row.owner_id):
                raise PermissionDenied(
                    f"Customer {customer_id} belongs to {row.owner_login}: only they or a manager "
                    f"of their team may {verb} it."
                )
            if bool(row.locked) == locked:
                return self._records(conn, [row], actor)[0]
            if locked:
                self._lock_rep(conn, row.owner_id)
                cap = int(self.rule(conn, "lock_cap"))
                held = self._count(conn, customer_t.c.owner_id == row.owner_id,
                                   customer_t.c.locked.is_(True))
                whose = "You hold" if row.owner_id == actor.id else f"{row.owner_login} holds"
                if cap == 0:
                    raise RuleRefused("lock_cap", "Locking is off: lock_cap is 0 (rule lock_cap).")
                if held + 1 > cap:
                    raise RuleRefused(
                        "lock_cap",
                        f"{whose} {held} of {cap} locked customers; unlock one first (rule lock_cap).",
                    )
            now = self.clock.now()
            changed = conn.execute(
                update(customer_t)
                .where(customer_t.c.id == customer_id, customer_t.c.owner_id == row.owner_id)
                .values(locked=locked, updated_at=now, updated_by_id=actor.id,
                        version=customer_t.c.version + 1)
                .returning(customer_t.c.id)
            ).first()
            if changed is None:
                raise RuleRefused(
                    "taken", f"Customer {customer_id} changed hands while you tried to {verb} it."
                )
            self._audit(conn, actor, "customer", customer_id, verb, {"locked": (not locked, locked)},
                        at=now)
            self._changed(conn, [customer_id])
            return self._owned_record(conn, customer_id)
