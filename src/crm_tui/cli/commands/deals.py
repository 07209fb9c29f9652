"""The pipeline as a list: ``crm deal list`` (``crm deal add`` and ``crm deal stage`` are in core)."""

from __future__ import annotations

import typer

from crm_tui.cli.app import Context, deal_app, emit_json, run
from crm_tui.i18n import _

JSON_OPTION = typer.Option(False, "--json", help=_("Print one JSON document."))
LIMIT_OPTION = typer.Option(50, "--limit", min=1, help=_("Most rows to list."))


@deal_app.command("list")
def deal_list(
    ctx: typer.Context,
    customer: str | None = typer.Argument(None, help=_("Only this customer's deals (id or name).")),
    stage: str | None = typer.Option(
        None, "--stage", help=_("prospecting, qualified, proposal, negotiation, won or lost."),
    ),
    mine: bool = typer.Option(False, "--mine", help=_("Only the deals I own.")),
    all_: bool = typer.Option(False, "--all", help=_("Every deal I may see (default).")),
    limit: int = LIMIT_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """The deals you may see, newest first."""
    if mine and all_:
        raise typer.BadParameter(_("choose one of --mine, --all"))
    scope = "mine" if mine else "all"

    def action(context: Context) -> None:
        store, actor = context.store, context.actor
        customer_id = store.resolve_customer(actor, customer) if customer is not None else None
        deals = store.list_deals(actor, customer_id=customer_id, stage=stage, scope=scope,
                                 limit=limit)
        if json_out:
            emit_json([deal.as_dict() for deal in deals])
            return
        if not deals:
            typer.echo(_("No deals found."))
            return
        from crm_tui.present.format import columns, money, short_date
        from crm_tui.present.textsafe import printable

        headers = [_("id"), _("customer"), _("title"), _("amount"), _("stage"), _("prob."),
                   _("close"), _("owner")]
        rows = [
            [str(deal.id), printable(f"{deal.customer_id} {deal.customer_name}"),
             printable(deal.title), money(deal.amount), deal.stage, f"{deal.probability:.0%}",
             short_date(deal.expected_close), printable(deal.owner or "")]
            for deal in deals
        ]
        typer.echo(columns(headers, rows))

    run(ctx, action)
