"""Changing what is known: ``crm edit`` (a customer's fields and tags) and ``crm contact add/edit``.

The store validates every value and decides who may change what; these commands gather the
options that were given, call it once, and print the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from crm_tui.cli.app import EXIT_USAGE, Context, app, contact_app, emit_json, fail, run
from crm_tui.i18n import _

if TYPE_CHECKING:
    from crm_tui.store.errors import Conflict

JSON_OPTION = typer.Option(False, "--json", help=_("Print one JSON document."))
CUSTOMER_ARGUMENT = typer.Argument(..., help=_("Customer id or name."))


def _given(**options: Any) -> dict[str, Any]:
    """The options the user gave (an empty value clears the field, so only None is left out)."""
    return {name: value for name, value in options.items() if value is not None}


def _new_tags(current: list[str], tag: list[str], untag: list[str]) -> list[str] | None:
    """The customer's complete new tag set, or None when neither --tag nor --untag was given."""
    from crm_tui.store.errors import UsageError
    from crm_tui.store.validate import parse_tags

    if not tag and not untag:
        return None
    added, removed = parse_tags(tag), parse_tags(untag)
    both = [name for name in added if name in removed]
    if both:
        raise UsageError(f"The tag {both[0]!r} is given to both --tag and --untag.")
    return [name for name in current if name not in removed] + [
        name for name in added if name not in current
    ]


def _conflict_sentence(customer_id: int, error: Conflict) -> str:
    """The store's refusal said the CLI's way: nothing to reload, the edit is simply run again."""
    from datetime import datetime

    who = error.changed_by or _("someone")
    when = error.changed_at.astimezone().strftime("%Y-%m-%d %H:%M") \
        if isinstance(error.changed_at, datetime) else _("an unknown time")
    return _("crm: customer {id} was changed by {who} at {when} while this edit ran; "
             "nothing was saved, so run it again.").format(id=customer_id, who=who, when=when)


@app.command()
def edit(
    ctx: typer.Context,
    customer: str = CUSTOMER_ARGUMENT,
    name: str | None = typer.Option(None, "--name"),
    phone: str | None = typer.Option(None, "--phone"),
    email: str | None = typer.Option(None, "--email"),
    company: str | None = typer.Option(None, "--company"),
    industry: str | None = typer.Option(None, "--industry"),
    region: str | None = typer.Option(None, "--region"),
    source: str | None = typer.Option(None, "--source"),
    kind: str | None = typer.Option(None, "--kind", help=_("company or person (also 公司, 个人).")),
    status: str | None = typer.Option(
        None, "--status", help=_("lead, intent, deal or lost (also 线索, 意向, 成交, 流失)."),
    ),
    tag: list[str] = typer.Option(
        [], "--tag", help=_("Add a tag, or several split by commas; repeat for more."),
    ),
    untag: list[str] = typer.Option(
        [], "--untag", help=_("Remove a tag, or several split by commas; repeat for more."),
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Change a customer's fields and tags; a change made meanwhile by someone else is refused."""
    changes = _given(name=name, phone=phone, email=email, company=company, industry=industry,
                     region=region, source=source, kind=kind, status=status)
    if not changes and not tag and not untag:
        raise fail(_("crm: nothing to change: give a field option such as --phone, or --tag/--untag."),
                   EXIT_USAGE)

    def action(context: Context) -> None:
        from crm_tui.store.errors import Conflict

        store, actor = context.store, context.actor
        customer_id = store.resolve_customer(actor, customer)
        # The version read here is the one the change is made against: the tag set computed from
        # this read is refused, not silently merged, if someone saved the customer meanwhile.
        current = store.get_customer(customer_id, actor)
        tags = _new_tags(current.tags, tag, untag)
        try:
            changed = store.update_customer(actor, customer_id, changes,
                                            expected_version=current.version, tags=tags)
        except Conflict as error:
            raise fail(_conflict_sentence(customer_id, error), error.exit_code) from None
        if json_out:
            emit_json(changed.as_dict())
        else:
            typer.echo(_("Changed customer {id}.").format(id=changed.id))

    run(ctx, action)


@contact_app.command("add")
def contact_add(
    ctx: typer.Context,
    customer: str = CUSTOMER_ARGUMENT,
    name: str = typer.Argument(..., help=_("The contact's name.")),
    title: str | None = typer.Option(None, "--title", help=_("Job title.")),
    phone: str | None = typer.Option(None, "--phone"),
    email: str | None = typer.Option(None, "--email"),
    wechat: str | None = typer.Option(None, "--wechat"),
    primary: bool = typer.Option(False, "--primary", help=_("Make this the primary contact.")),
    json_out: bool = JSON_OPTION,
) -> None:
    """Add a contact person to a customer; prints the contact's id."""

    def action(context: Context) -> None:
        store, actor = context.store, context.actor
        customer_id = store.resolve_customer(actor, customer)
        added = store.add_contact(actor, customer_id, dict(
            name=name, title=title, phone=phone, email=email, wechat=wechat, is_primary=primary))
        if json_out:
            emit_json(added.as_dict())
        else:
            typer.echo(str(added.id))

    run(ctx, action)


@contact_app.command("edit")
def contact_edit(
    ctx: typer.Context,
    contact: int = typer.Argument(..., help=_("Contact id (as `crm show --json` lists them).")),
    name: str | None = typer.Option(None, "--name"),
    title: str | None = typer.Option(None, "--title", help=_("Job title.")),
    phone: str | None = typer.Option(None, "--phone"),
    email: str | None = typer.Option(None, "--email"),
    wechat: str | None = typer.Option(None, "--wechat"),
    primary: bool | None = typer.Option(
        None, "--primary/--not-primary", help=_("Make this the primary contact, or not."),
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Change a contact person's details."""
    changes = _given(name=name, title=title, phone=phone, email=email, wechat=wechat,
                     is_primary=primary)
    if not changes:
        raise fail(_("crm: nothing to change: give a field option such as --phone or --primary."),
                   EXIT_USAGE)

    def action(context: Context) -> None:
        changed = context.store.update_contact(context.actor, contact, changes)
        if json_out:
            emit_json(changed.as_dict())
        else:
            typer.echo(_("Changed contact {id}.").format(id=changed.id))

    run(ctx, action)
