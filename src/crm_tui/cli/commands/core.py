"""Core commands: init, db, find, show, add, log, due, reps list/add, deal add/stage."""

from __future__ import annotations

from typing import Any

import typer

from crm_tui.cli.app import Context, app, console, db_app, deal_app, emit_json, plain, reps_app, run
from crm_tui.i18n import _

JSON_OPTION = typer.Option(False, "--json", help=_("Print one JSON document."))
LIMIT_OPTION = typer.Option(50, "--limit", min=1, help=_("Most rows to list."))


def _scope(pool: bool, mine: bool, all_: bool) -> str:
    chosen = [name for name, flag in (("pool", pool), ("mine", mine), ("all", all_)) if flag]
    if len(chosen) > 1:
        raise typer.BadParameter(_("choose one of --pool, --mine, --all"))
    return chosen[0] if chosen else "all"


def customer_columns(customers: list[Any]) -> str:
    """Search results as plain aligned columns (user text shown literally)."""
    from crm_tui.present.format import columns, short_date
    from crm_tui.present.textsafe import printable

    headers = [_("id"), _("name"), _("company"), _("status"), _("tier"), _("owner"), _("phone"), _("next")]
    rows = [
        [str(c.id), printable(c.name), printable(c.company), c.status, c.tier or "",
         printable(c.owner or _("open sea")), printable(c.phone), short_date(c.next_follow_up_at)]
        for c in customers
    ]
    return columns(headers, rows)


@app.command()
def init(
    ctx: typer.Context,
    demo: int = typer.Option(0, "--demo", min=0, help=_("Add N realistic demo customers.")),
    group: str | None = typer.Option(
        None, "--group", help=_("SQLite: share the database with this Unix group (its own directory).")
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Create or upgrade the database, make the caller admin, optionally add demo data."""

    def action(context: Context) -> None:
        from crm_tui.config import os_full_name, os_login
        from crm_tui.store.schema.setup import initialise

        url = context.url
        login = os_login()
        share = None
        if group:
            from crm_tui.store.db.sqlite_shared import prepare_group_share

            share = prepare_group_share(url, group)
        if demo and not json_out:
            from crm_tui.cli.progress import progress_bar

            with progress_bar(_("Adding demo customers")) as advance:
                result = initialise(url, login, os_full_name(), demo=demo, progress=advance,
                                        prefer_database_role=True)
        else:
            result = initialise(url, login, os_full_name(), demo=demo, prefer_database_role=True)
        if share is not None:
            share.apply()
        if json_out:
            emit_json(dict(result.as_dict(), group=group) if group else result.as_dict())
            return
        typer.echo(_("Database {db} is at schema {rev}.").format(db=result.database, rev=result.revision))
        if result.admin_created:
            typer.echo(_("{login} is its first admin.").format(login=result.admin_created))
        if demo:
            typer.echo(_("Added {n} demo customers.").format(n=demo))
        if share is not None:
            typer.echo(_("Shared with the Unix group {group}: {dir} is mode 2770, the files 0660.")
                       .format(group=group, dir=share.directory))

    run(ctx, action)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """Apply pending migrations."""

    def action(context: Context) -> None:
        from crm_tui.store.schema import migrate as schema
        status = schema.upgrade(context.url, create=False)
        if json_out:
            emit_json(status.as_dict())
        else:
            typer.echo(_("Database is at schema {rev} (up to date).").format(rev=status.current))

    run(ctx, action)


@db_app.command("status")
def db_status(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """Show the schema revision and pending migrations."""

    def action(context: Context) -> None:
        from crm_tui.store.schema import migrate as schema
        status = schema.status(context.url)
        if json_out:
            emit_json(status.as_dict())
            return
        typer.echo(_("current: {rev}").format(rev=status.current or _("not initialised")))
        typer.echo(_("head:    {rev}").format(rev=status.head))
        if status.pending:
            typer.echo(_("pending: {revs} (run `crm db upgrade`)").format(revs=", ".join(status.pending)))
        else:
            typer.echo(_("up to date"))

    run(ctx, action)


@app.command()
def find(
    ctx: typer.Context,
    query: str = typer.Argument("", help=_("Name, company, contact, phone digits, email, pinyin.")),
    pool: bool = typer.Option(False, "--pool", help=_("Only the open sea.")),
    mine: bool = typer.Option(False, "--mine", help=_("Only my private sea.")),
    all_: bool = typer.Option(False, "--all", help=_("Everything I may see (default).")),
    limit: int = LIMIT_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Search the customers you may see."""
    scope = _scope(pool, mine, all_)

    def action(context: Context) -> None:
        found = context.store.find(context.actor, query, scope=scope, limit=limit)
        if json_out:
            emit_json([c.as_dict() for c in found])
        elif found:
            typer.echo(customer_columns(found))
        else:
            typer.echo(_("No customers found."))

    run(ctx, action)


@app.command()
def show(
    ctx: typer.Context,
    customer: str = typer.Argument(..., help=_("Customer id or name.")),
    history: bool = typer.Option(False, "--history", help=_("Include the audit history.")),
    json_out: bool = JSON_OPTION,
) -> None:
    """The customer's portrait."""

    def action(context: Context) -> None:
        store, actor = context.store, context.actor
        customer_id = store.resolve_customer(actor, customer)
        portrait = store.portrait(actor, customer_id, history=history)
        if json_out:
            emit_json(portrait.as_dict())
        else:
            from crm_tui.present.portrait import portrait_text

            console().print(portrait_text(portrait))

    run(ctx, action)


@app.command()
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=_("Customer name.")),
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
    notes: str | None = typer.Option(None, "--notes"),
    tag: list[str] = typer.Option(
        [], "--tag", help=_("A tag, or several split by commas; repeat for more."),
    ),
    pool: bool = typer.Option(False, "--pool", help=_("Put it in the open sea.")),
    force: bool = typer.Option(False, "--force", help=_("Add a look-alike of your own or an open-sea customer.")),
    json_out: bool = JSON_OPTION,
) -> None:
    """Create a customer (after the duplicate check); prints its id."""

    def action(context: Context) -> None:
        from crm_tui.store.validate import parse_tags

        # Values go to the store as typed: it validates them, and understands 意向 as intent
        # there, for every path alike.
        fields = dict(name=name, phone=phone, email=email, company=company, industry=industry,
                      region=region, source=source, kind=kind, status=status, notes=notes)
        created = context.store.add_customer(context.actor, fields, pool=pool, force=force,
                                             tags=parse_tags(tag))
        if json_out:
            emit_json(created.as_dict())
        else:
            typer.echo(str(created.id))

    run(ctx, action)


@app.command()
def log(
    ctx: typer.Context,
    customer: str = typer.Argument(..., help=_("Customer id or name.")),
    summary: str = typer.Argument(..., help=_("What happened.")),
    channel: str | None = typer.Option(None, "--channel", help=_("call, visit, wechat, email, meeting, other.")),
    next_date: str | None = typer.Option(None, "--next", help=_("Next follow-up: YYYY-MM-DD or +3d.")),
    at: str | None = typer.Option(None, "--at", help=_("When it happened (default now).")),
    json_out: bool = JSON_OPTION,
) -> None:
    """Log a follow-up and set the next date."""

    def action(context: Context) -> None:
        store, actor = context.store, context.actor
        customer_id = store.resolve_customer(actor, customer)
        logged = store.log_follow_up(actor, customer_id, summary, channel=channel, next_at=next_date, at=at)
        if json_out:
            data = logged.as_dict()
            data["customer"] = store.get_customer(customer_id, actor).as_dict()
            emit_json(data)
        else:
            nxt = logged.next_at.isoformat() if logged.next_at else _("none")
            typer.echo(_("Logged follow-up {id} on {name} (next: {next}).").format(
                id=logged.id, name=plain(logged.customer_name), next=nxt))

    run(ctx, action)


@app.command()
def due(
    ctx: typer.Context,
    days: int = typer.Option(0, "--days", min=0, help=_("Look this many days ahead.")),
    limit: int = LIMIT_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """My follow-ups due or overdue, and my customers about to be recycled."""

    def action(context: Context) -> None:
        items = context.store.due(context.actor, days=days)[:limit]
        if json_out:
            emit_json([item.as_dict() for item in items])
            return
        if not items:
            typer.echo(_("Nothing due."))
            return
        from crm_tui.cli.output import print_table
        from crm_tui.present.format import due_phrase

        print_table([_("id"), _("name"), _("company"), _("what"), _("when")],
                    [[item.customer_id, item.name, item.company, _(item.reason), due_phrase(item)]
                     for item in items], right={0})

    run(ctx, action)


@reps_app.command("list")
def reps_list(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List the reps."""

    def action(context: Context) -> None:
        reps = context.store.list_reps(context.actor)
        if json_out:
            emit_json([r.as_dict() for r in reps])
            return
        from crm_tui.cli.output import print_table

        print_table([_("login"), _("name"), _("role"), _("team"), _("active"), _("customers")],
                    [[r.login, r.name, r.role, r.team, _("yes") if r.active else _("no"),
                      r.customers] for r in reps], right={5})

    run(ctx, action)


@reps_app.command("add")
def reps_add(
    ctx: typer.Context,
    login: str = typer.Argument(..., help=_("OS account or PostgreSQL role name.")),
    name: str = typer.Option(..., "--name", help=_("Full name.")),
    role: str = typer.Option("rep", "--role", help=_("rep, manager or admin.")),
    team: str | None = typer.Option(None, "--team"),
    json_out: bool = JSON_OPTION,
) -> None:
    """Add a rep (admins only). The rep is identified by the OS account of that name (on
    PostgreSQL the login role, created when missing where you may); a missing one is a note on
    stderr, not a refusal."""

    def action(context: Context) -> None:
        rep = context.store.add_rep(context.actor, login, name, role=role, team=team)
        # How the new rep will be identified when no such account or role exists yet (an
        # admin may add a rep first), and PostgreSQL role provisioning that did not happen.
        for note in context.store.security_notes:
            typer.echo(f"crm: note: {note}", err=True)
        if json_out:
            emit_json(rep.as_dict())
        else:
            typer.echo(_("Added {login} ({role}).").format(login=rep.login, role=rep.role))

    run(ctx, action)


@deal_app.command("add")
def deal_add(
    ctx: typer.Context,
    customer: str = typer.Argument(..., help=_("Customer id or name.")),
    title: str = typer.Argument(...),
    amount: str = typer.Argument(...),
    stage: str | None = typer.Option(None, "--stage", help=_("prospecting, qualified, proposal, negotiation, won, lost.")),
    expected_close: str | None = typer.Option(None, "--close", help=_("Expected close date.")),
    json_out: bool = JSON_OPTION,
) -> None:
    """Add a deal to a customer."""

    def action(context: Context) -> None:
        store, actor = context.store, context.actor
        customer_id = store.resolve_customer(actor, customer)
        deal = store.add_deal(actor, customer_id, title, amount, stage=stage, expected_close=expected_close)
        if json_out:
            emit_json(deal.as_dict())
        else:
            typer.echo(str(deal.id))

    run(ctx, action)


@deal_app.command("stage")
def deal_stage(
    ctx: typer.Context,
    deal: int = typer.Argument(..., help=_("Deal id.")),
    stage: str = typer.Argument(...),
    json_out: bool = JSON_OPTION,
) -> None:
    """Move a deal to another stage."""

    def action(context: Context) -> None:
        moved = context.store.move_deal(context.actor, deal, stage)
        if json_out:
            emit_json(moved.as_dict())
        else:
            typer.echo(_("Deal {id} is now {stage}.").format(id=moved.id, stage=moved.stage))

    run(ctx, action)
