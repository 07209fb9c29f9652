"""Open-sea commands: pool, claim, release, lock, unlock, transfer, recycle, rules, reps deactivate.

Every rule lives in the store; these commands resolve names, call it and print the result.
Refusals come back as one sentence naming the rule, with exit code 3.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from crm_tui.cli.app import EXIT_USAGE, Context, app, emit_json, fail, reps_app, run
from crm_tui.i18n import _
from crm_tui.present.textsafe import printable

if TYPE_CHECKING:
    from crm_tui.store import Actor, CustomerRecord, Store

JSON_OPTION = typer.Option(False, "--json", help=_("Print one JSON document."))
LIMIT_OPTION = typer.Option(50, "--limit", min=1, help=_("Most rows to list."))
CUSTOMER_ARGUMENT = typer.Argument(..., help=_("Customer id or name."))


def _customer_id(store: Store, actor: Actor, ref: str) -> int:
    """An id as given (so a colleague's customer is "already claimed by X", not "not found"),
    or the one visible customer a name matches."""
    text_ref = ref.strip().lstrip("#")
    if text_ref.isdigit():
        return int(text_ref)
    return store.resolve_customer(actor, ref)


def _moved(verb: str, customer: CustomerRecord, json_out: bool) -> None:
    if json_out:
        emit_json(customer.as_dict())
        return
    from crm_tui.present.format import sentence

    typer.echo(sentence(_("{verb} customer {id}, {name}").format(
        verb=verb, id=customer.id, name=printable(customer.name))))


@app.command()
def pool(
    ctx: typer.Context,
    query: str = typer.Argument("", help=_("Name, company, phone digits, pinyin; empty lists all.")),
    limit: int = LIMIT_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Browse the open sea: why each customer is there and for how long."""

    def action(context: Context) -> None:
        entries = context.store.pool(context.actor, query, limit=limit)
        if json_out:
            emit_json([entry.as_dict() for entry in entries])
            return
        if not entries:
            typer.echo(_("The open sea is empty.") if not query.strip() else _("No customers found."))
            return
        from crm_tui.cli.output import print_table

        rows = []
        for entry in entries:
            c = entry.customer
            why = c.release_reason or ""
            if c.released_by:
                why = f"{c.released_by}: {why}" if why else c.released_by
            rows.append([c.id, c.name, c.company, c.industry, c.region, c.phone, why,
                         entry.days_in_pool])
        print_table([_("id"), _("name"), _("company"), _("industry"), _("region"), _("phone"),
                     _("why in the open sea"), _("days")], rows, right={0, 7}, fold=True)

    run(ctx, action)


@app.command()
def claim(ctx: typer.Context, customer: str = CUSTOMER_ARGUMENT, json_out: bool = JSON_OPTION) -> None:
    """Claim an open-sea customer into your private sea."""

    def action(context: Context) -> None:
        store, actor = context.store, context.actor
        claimed = store.claim(_customer_id(store, actor, customer), actor)
        _moved(_("Claimed"), claimed, json_out)

    run(ctx, action)


@app.command()
def release(
    ctx: typer.Context,
    customer: str = CUSTOMER_ARGUMENT,
    reason: str | None = typer.Option(
        None, "--reason", help=_("Why: no budget, no intent, unreachable, went to a competitor, "
                                 "duplicate, other, or your own words.")),
    json_out: bool = JSON_OPTION,
) -> None:
    """Return a customer to the open sea, with the reason."""

    def action(context: Context) -> None:
        store, actor = context.store, context.actor
        released = store.release(store.resolve_customer(actor, customer), actor, reason)
        _moved(_("Released"), released, json_out)

    run(ctx, action)


@app.command()
def lock(ctx: typer.Context, customer: str = CUSTOMER_ARGUMENT, json_out: bool = JSON_OPTION) -> None:
    """Mark a key account: exempt from recycling (at most lock_cap per rep)."""

    def action(context: Context) -> None:
        store, actor = context.store, context.actor
        _moved(_("Locked"), store.lock(store.resolve_customer(actor, customer), actor), json_out)

    run(ctx, action)


@app.command()
def unlock(ctx: typer.Context, customer: str = CUSTOMER_ARGUMENT, json_out: bool = JSON_OPTION) -> None:
    """Make a key account an ordinary customer again."""

    def action(context: Context) -> None:
        store, actor = context.store, context.actor
        _moved(_("Unlocked"), store.unlock(store.resolve_customer(actor, customer), actor), json_out)

    run(ctx, action)


@app.command()
def transfer(
    ctx: typer.Context,
    customers: list[str] = typer.Argument(None, help=_("Customer ids or names (or --all).")),
    from_login: str = typer.Option(..., "--from", help=_("The rep who has them.")),
    to_login: str = typer.Option(..., "--to", help=_("The rep who takes them.")),
    all_: bool = typer.Option(False, "--all", help=_("Every customer of --from.")),
    reason: str | None = typer.Option(None, "--reason", help=_("Why, for the history.")),
    json_out: bool = JSON_OPTION,
) -> None:
    """Move customers between reps with their contacts, open deals and history (managers, admins)."""
    refs = list(customers or [])
    if bool(refs) == all_:
        raise fail(_("crm: name the customers to transfer, or use --all (not both)."), EXIT_USAGE)

    def action(context: Context) -> None:
        store, actor = context.store, context.actor
        ids = [store.resolve_customer(actor, ref) for ref in refs]
        result = store.transfer(actor, from_login, to_login, ids or None, all_customers=all_,
                                reason=reason)
        if json_out:
            emit_json(result.as_dict())
            return
        typer.echo(_("Transferred {n} customers from {src} to {dst}.").format(
            n=result.moved, src=printable(result.from_rep), dst=printable(result.to_rep)))
        if result.over_cap:
            typer.echo(_("Note: {dst} now owns more customers than private_cap allows.").format(
                dst=printable(result.to_rep)), err=True)

    run(ctx, action)


@app.command()
def recycle(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help=_("List what would move; move nothing.")),
    json_out: bool = JSON_OPTION,
) -> None:
    """Apply the recycle rules now: neglected customers go back to the open sea."""

    def action(context: Context) -> None:
        store, actor = context.store, context.actor
        if not json_out and sys.stderr.isatty():
            from crm_tui.cli.progress import progress_bar

            with progress_bar(_("Recycling")) as advance:
                moved = store.recycle(actor, dry_run=dry_run, progress=advance)
        else:
            moved = store.recycle(actor, dry_run=dry_run)
        if json_out:
            emit_json([item.as_dict() for item in moved])
            return
        if not moved:
            typer.echo(_("Nothing to recycle."))
            return
        from crm_tui.cli.output import print_table
        from crm_tui.present.format import count, short_datetime

        title = (count(len(moved), "Would recycle {n} customer", "Would recycle {n} customers")
                 if dry_run else count(len(moved), "Recycled {n} customer", "Recycled {n} customers"))
        print_table([_("id"), _("name"), _("owner"), _("rule"), _("since")],
                    [[item.customer_id, item.name, item.owner, item.rule,
                      short_datetime(item.deadline)] for item in moved],
                    title=title, right={0}, fold=True)

    run(ctx, action)


def _parse_assignments(assignments: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip():
            raise fail(_("crm: --set takes KEY=VALUE, not {item!r}.").format(item=assignment),
                       EXIT_USAGE)
        values[key.strip()] = value
    return values


@app.command()
def rules(
    ctx: typer.Context,
    assignments: list[str] = typer.Option([], "--set", help=_("KEY=VALUE; repeat for more (admins).")),
    yes: bool = typer.Option(
        False, "--yes", help=_("Change a cap even when reps already hold more than it.")),
    json_out: bool = JSON_OPTION,
) -> None:
    """Show the company rules (the open-sea rules and other settings such as
    default_phone_region); everyone may read them, only an admin changes them with --set
    KEY=VALUE. Lowering private_cap or lock_cap below what reps hold needs --yes."""
    values = _parse_assignments(assignments)

    def action(context: Context) -> None:
        from crm_tui.store.team.settings import RULES, encode, may_change_rules

        store = context.store
        before: dict[str, Any] = store.rules() if values and not json_out else {}
        current: dict[str, Any] = (
            store.set_rules(context.actor, values, over_cap_ok=yes) if values else store.rules()
        )
        if json_out:
            emit_json(current)
            return

        def shown(value: Any) -> str:
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, list):
                return ", ".join(str(v) for v in value)
            return value if isinstance(value, str) else encode(value)

        if values:
            # What changed, not the whole table (issue 15 item 9).
            for key in values:
                old, new = shown(before.get(key)), shown(current.get(key))
                line = (_("Changed {key}: {old} → {new}.") if old != new
                        else _("Unchanged {key}: {new}."))
                typer.echo(printable(line.format(key=key, old=old, new=new)))
            return
        from crm_tui.cli.output import print_table

        print_table([_("key"), _("value"), _("meaning")],
                    [[key, shown(current[key]), _(spec.help)] for key, spec in RULES.items()],
                    fold=True)
        if may_change_rules(context.actor):
            typer.echo(_("Company rules: change them with --set KEY=VALUE."))
        else:
            typer.echo(_("Company rules — only an admin may change them."))

    run(ctx, action)


@reps_app.command("deactivate")
def reps_deactivate(
    ctx: typer.Context,
    login: str = typer.Argument(..., help=_("The rep who leaves.")),
    transfer_to: str | None = typer.Option(None, "--transfer-to", help=_("Give their customers to this rep.")),
    to_pool: bool = typer.Option(False, "--to-pool", help=_("Release their customers to the open sea.")),
    json_out: bool = JSON_OPTION,
) -> None:
    """Deactivate a rep after moving their customers, so none is lost (admins)."""
    if bool(transfer_to) == to_pool:
        raise fail(_("crm: say where {login}'s customers go: --transfer-to LOGIN or --to-pool "
                     "(one of them).").format(login=printable(login)), EXIT_USAGE)

    def action(context: Context) -> None:
        result = context.store.deactivate_rep(context.actor, login, transfer_to=transfer_to,
                                              to_pool=to_pool)
        if json_out:
            emit_json(result.as_dict())
            return
        where = printable(result.to_rep) if result.to_rep else _("the open sea")
        typer.echo(_("Deactivated {login}; {n} customers went to {where}.").format(
            login=printable(result.from_rep), n=result.moved, where=where))

    run(ctx, action)
