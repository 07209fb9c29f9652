"""``crm duplicates`` (likely pairs among what you may see) and ``crm merge KEEP OTHER...``."""

from __future__ import annotations

import typer

from crm_tui.cli.app import Context, app, emit_json, run
from crm_tui.i18n import _

JSON_OPTION = typer.Option(False, "--json", help=_("Print one JSON document."))


@app.command("duplicates")
def duplicates(
    ctx: typer.Context,
    limit: int = typer.Option(50, "--limit", min=1, help=_("Most pairs to list.")),
    json_out: bool = JSON_OPTION,
) -> None:
    """Likely duplicates among the customers you may see (same phone or email, or the same name
    at one company), the likeliest first, with a score and the reason."""

    def action(context: Context) -> None:
        pairs = context.store.duplicate_pairs(context.actor, limit=limit)
        if json_out:
            emit_json([pair.as_dict() for pair in pairs])
            return
        if not pairs:
            typer.echo(_("No likely duplicates among the customers you may see."))
            return
        from crm_tui.present.format import columns
        from crm_tui.present.textsafe import printable

        headers = [_("score"), _("customer"), _("customer"), _("why")]
        rows = [
            [str(pair.score), printable(f"{pair.first_id} {pair.first_name}"),
             printable(f"{pair.second_id} {pair.second_name}"), ", ".join(pair.reasons)]
            for pair in pairs
        ]
        typer.echo(columns(headers, rows))
        typer.echo(_("Merge a pair with `crm merge KEEP OTHER`."))

    run(ctx, action)


@app.command("merge")
def merge(
    ctx: typer.Context,
    into: str = typer.Argument(..., metavar="KEEP", help=_("The customer kept (id or name).")),
    other: list[str] = typer.Argument(  # noqa: B008 - Typer's way to declare an argument
        ..., metavar="OTHER...", help=_("The customers merged into it (ids or names)."),
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Merge customers into KEEP: their contacts, follow-ups, deals, tags and history move to
    it, its empty fields are filled from them, and each OTHER is then found as "merged into
    KEEP". One transaction, audited. The owner of all of them, a manager of their owners or an
    admin may merge."""

    def action(context: Context) -> None:
        store, actor = context.store, context.actor
        keep_id = store.resolve_customer(actor, into)
        other_ids = [store.resolve_customer(actor, ref) for ref in other]
        result = store.merge_customers(actor, keep_id, other_ids)
        if json_out:
            emit_json(result.as_dict())
            return
        from crm_tui.present.textsafe import printable

        merged = ", ".join(f"#{cid}" for cid in result.merged_ids)
        typer.echo(_("Merged {merged} into #{id} {name}.").format(
            merged=merged, id=result.kept.id, name=printable(result.kept.name)))
        moved = ", ".join(f"{count} {_(name.replace('_', ' '))}"
                          for name, count in result.moved.items() if count)
        if moved:
            typer.echo(_("Moved: {moved}.").format(moved=moved))
        if result.filled:
            typer.echo(_("Filled: {fields}.").format(fields=", ".join(sorted(result.filled))))
        if result.kept_apart:
            typer.echo(_("Kept apart in extra (KEEP had other values): {keys}.").format(
                keys=", ".join(result.kept_apart)))

    run(ctx, action)
