"""Transfers between reps and deactivating a rep (DESIGN §4): a departure never loses a customer.

Customers move with their contacts, follow-up history and open deals; their rows are locked in
id order (``moves.locked_in_id_order``), so a transfer and a deactivation of overlapping
customers wait for each other instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from crm_tui.store import validate
from crm_tui.store.db.base import customer_t, rep_t
from crm_tui.store.errors import NotFound, PermissionDenied, RuleRefused, UsageError
from crm_tui.store.records import Actor
from crm_tui.store.reports import TransferResult
from crm_tui.store.sea.moves import Moves, chunks, locked_in_id_order


class TransferOps(Moves):
    """Managers move customers between reps; admins deactivate reps."""

    def transfer(
        self,
        actor: Actor,
        from_login: str,
        to_login: str,
        customer_ids: Sequence[int] | None = None,
        *,
        all_customers: bool = False,
        reason: str | None = None,
    ) -> TransferResult:
        """Move chosen customers (or all) of one rep to another, with everything they carry.

        Contacts and follow-up history stay with the customer; open deals follow it to the new
        owner at the stage they are in (won and lost deals keep the rep who closed them). The
        new owner's recycle clock starts again (``claimed_at`` is now). A manager may transfer
        between reps of their own team, an admin between any reps. ``private_cap`` does not
        block a transfer: a manager handing over a leaving rep's book must not lose customers
        to a cap; ``over_cap`` in the result says when the receiver is now over it.
        """
        if not actor.is_manager:
            raise PermissionDenied("Only a manager or an admin may transfer customers.")
        ids = list(dict.fromkeys(int(i) for i in customer_ids or []))
        if bool(ids) == bool(all_customers):
            raise UsageError("Name the customers to transfer, or use --all (not both).")
        clean_reason = validate.text("reason", reason, limit=500)
        with self.write() as conn:
            self._require_active(conn, actor)
            source = self._rep_by_login(conn, from_login)
            target = self._rep_by_login(conn, to_login)
            self._check_transfer(actor, source, target)
            self._lock_rep(conn, source.id)
            moved = self._transfer(conn, actor, source.id, target.id, ids or None, clean_reason)
            if ids and len(moved) != len(ids):
                missing = next(i for i in ids if i not in set(moved))
                exists_ = conn.execute(select(customer_t.c.id).where(customer_t.c.id == missing)).first()
                if exists_ is None:
                    raise NotFound(f"There is no customer {missing}; nothing was transferred.")
                raise RuleRefused(
                    "owner",
                    f"Customer {missing} is not in {source.login}'s private sea; nothing was transferred.",
                )
            return TransferResult(len(moved), moved, source.login, target.login,
                                  self._over_cap(conn, target.id))

    def _check_transfer(self, actor: Actor, source: Any, target: Any) -> None:
        if source.id == target.id:
            raise UsageError(f"{source.login} already owns these customers: choose another rep.")
        if not target.active:
            raise RuleRefused("active", f"The rep {target.login} is deactivated and cannot receive customers.")
        if actor.is_admin:
            return
        if not actor.team or source.team != actor.team or target.team != actor.team:
            raise PermissionDenied(
                "A manager may transfer customers only between reps of their own team."
            )

    def _transfer(
        self, conn: Connection, actor: Actor, from_id: int, to_id: int,
        customer_ids: Sequence[int] | None, reason: str | None,
    ) -> list[int]:
        now = self.clock.now()
        values = dict(owner_id=to_id, claimed_at=now, updated_at=now, updated_by_id=actor.id,
                      version=customer_t.c.version + 1)
        moved: list[int] = []
        if customer_ids is None:
            moved = list(conn.execute(
                update(customer_t)
                .where(customer_t.c.owner_id == from_id,
                       locked_in_id_order(customer_t.c.owner_id == from_id))
                .values(**values).returning(customer_t.c.id)
            ).scalars())
        else:
            for chunk in chunks(list(customer_ids)):
                moved += conn.execute(
                    update(customer_t)
                    .where(customer_t.c.owner_id == from_id,
                           locked_in_id_order(customer_t.c.id.in_(chunk),
                                              customer_t.c.owner_id == from_id))
                    .values(**values).returning(customer_t.c.id)
                ).scalars().all()
        moved.sort()
        if moved:
            # The ownership events carry the open deals along (db/history.py, one rule).
            self._ownership(conn, moved, "transferred", actor, from_id, to_id, reason, at=now)
            self._audit_owner_change(conn, actor, moved, "transfer", from_id, to_id, at=now)
            self._changed(conn, moved)
        return moved

    def _over_cap(self, conn: Connection, rep_id: int) -> bool:
        cap = int(self.rule(conn, "private_cap"))
        return cap > 0 and self._count(conn, customer_t.c.owner_id == rep_id) > cap

    def deactivate_rep(
        self,
        actor: Actor,
        login: str,
        *,
        transfer_to: str | None = None,
        to_pool: bool = False,
    ) -> TransferResult:
        """Deactivate a rep (admins only) after moving every customer they own.

        Refused while they own customers and neither ``transfer_to`` (another active rep) nor
        ``to_pool`` says where those go, so a departure never loses a customer. The moves and
        the deactivation are one transaction; claims by the rep wait for it and then fail.
        """
        if not actor.is_admin:
            raise PermissionDenied("Only an admin may deactivate reps.")
        if transfer_to and to_pool:
            raise UsageError("Choose one of --transfer-to LOGIN and --to-pool.")
        with self.write() as conn:
            self._require_active(conn, actor)
            rep = self._rep_by_login(conn, login)
            if rep.id == actor.id:
                raise RuleRefused("permission", "You cannot deactivate yourself; ask another admin.")
            if not rep.active:
                raise UsageError(f"The rep {rep.login} is already deactivated.")
            self._lock_rep(conn, rep.id)
            owned = self._count(conn, customer_t.c.owner_id == rep.id)
            target = None
            moved: list[int] = []
            if transfer_to:
                target = self._rep_by_login(conn, transfer_to)
                self._check_transfer(actor, rep, target)
                moved = self._transfer(conn, actor, rep.id, target.id, None,
                                       f"{rep.login} was deactivated")
            elif to_pool:
                ids = list(conn.execute(
                    select(customer_t.c.id).where(customer_t.c.owner_id == rep.id)
                    .order_by(customer_t.c.id)
                ).scalars())
                moved = self._to_pool(conn, actor, ids, rep.id, f"{rep.login} was deactivated",
                                      kind="released")
            elif owned:
                raise RuleRefused(
                    "deactivate",
                    f"{rep.login} owns {owned} customers: move them with --transfer-to LOGIN or "
                    "--to-pool, so none is lost.",
                )
            leftover = self._count(conn, customer_t.c.owner_id == rep.id)
            if leftover:  # pragma: no cover - the rep lock makes this unreachable
                raise RuleRefused("deactivate", f"{rep.login} still owns {leftover} customers.")
            conn.execute(update(rep_t).where(rep_t.c.id == rep.id).values(active=False))
            self._audit(conn, actor, "rep", rep.id, "deactivate", {"active": (True, False)})
            return TransferResult(len(moved), moved, rep.login, target.login if target else None,
                                  self._over_cap(conn, target.id) if target else False)
