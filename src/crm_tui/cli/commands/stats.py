"""crm stats: the dashboard as text."""

from __future__ import annotations

from typing import Any

import typer

from crm_tui.cli.app import Context, app, console, emit_json, plain, run
from crm_tui.i18n import _
from crm_tui.present.format import count

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int]) -> str:
    """The values as a row of block characters (the tallest is the largest value)."""
    top = max(values, default=0)
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(len(SPARK) - 1, value * (len(SPARK) - 1) // top)] for value in values)


def stats_json(board: Any) -> dict[str, Any]:
    """The dashboard as the stable JSON document of ``crm stats --json``."""
    return {
        "scope": board.scope,
        "team": board.team,
        "generated_at": board.generated_at,
        "reps": [line.as_dict() for line in board.reps],
        "totals": board.totals.as_dict(),
        "pipeline": [stage.as_dict() for stage in board.pipeline],
        "tiers": dict(board.tiers),
        "rfm": dict(board.rfm),
        "open_sea": board.open_sea.as_dict(),
    }


def _money(value: Any) -> str:
    return f"{value:,.2f}"


def print_dashboard(board: Any) -> None:
    from crm_tui.cli.output import print_table

    out = console()
    scope = {
        "all": _("Everyone"),
        "team": _("Team {team}").format(team=board.team),
        "own": _("My figures"),
    }.get(board.scope, board.scope)
    out.print(plain(_("Dashboard — {scope}").format(scope=scope)))

    lines = list(board.reps)
    if len(lines) > 1:
        lines.append(board.totals)
    rows = []
    for line in lines:
        label = _("total") if line is lines[-1] and len(board.reps) > 1 else line.login
        rows.append([label, line.owned, line.follow_ups_7d, line.follow_ups_30d, line.overdue,
                     line.recycle_soon, line.won_this_month, _money(line.won_amount_this_month)])
    print_table([_("rep"), _("owned"), _("7d"), _("30d"), _("overdue"), _("recycle"), _("won"),
                 _("won amount")], rows, right=range(1, 8), light=True,
                title=_("Reps (follow-ups in the last 7 and 30 days; won this month)"))

    print_table([_("stage"), _("deals"), _("amount"), _("weighted")],
                [[stage.stage, stage.count, _money(stage.amount), _money(stage.weighted)]
                 for stage in board.pipeline],
                right={1, 2, 3}, light=True, title=_("Pipeline"))

    tiers = list(board.tiers.items())
    segments = list(board.rfm.items())
    value_rows = []
    for index in range(max(len(tiers), len(segments))):
        tier = tiers[index] if index < len(tiers) else ("", "")
        segment = segments[index] if index < len(segments) else ("", "")
        value_rows.append([tier[0], tier[1], segment[0], segment[1]])
    print_table([_("tier"), _("customers"), _("RFM segment"), _("customers")], value_rows,
                right={1, 3}, light=True, title=_("Customers by value"))

    weeks = board.open_sea.weeks
    print_table([_("week of"), _("in"), _("out")],
                [[week.week.isoformat(), week.inflow, week.outflow] for week in weeks],
                right={1, 2}, light=True,
                title=count(board.open_sea.size, "Open sea: {n} customer", "Open sea: {n} customers"))
    if weeks:
        out.print(plain(_("in  {spark}").format(spark=sparkline([w.inflow for w in weeks]))))
        out.print(plain(_("out {spark}").format(spark=sparkline([w.outflow for w in weeks]))))


@app.command()
def stats(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help=_("Print one JSON document.")),
) -> None:
    """The dashboard as text: per-rep work, pipeline, value tiers, the open sea."""

    def action(context: Context) -> None:
        board = context.store.dashboard(context.actor)
        if json_out:
            emit_json(stats_json(board))
        else:
            print_dashboard(board)

    run(ctx, action)
