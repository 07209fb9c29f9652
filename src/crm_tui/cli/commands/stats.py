"""crm stats: the dashboard as text."""

from __future__ import annotations

from typing import Any

import typer

from crm_tui.cli.app import Context, app, console, emit_json, plain, run
from crm_tui.i18n import _

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
    from rich import box
    from rich.table import Table

    out = console()
    scope = {
        "all": _("Everyone"),
        "team": _("Team {team}").format(team=board.team),
        "own": _("My figures"),
    }.get(board.scope, board.scope)
    out.print(plain(_("Dashboard — {scope}").format(scope=scope)))

    reps = Table(title=_("Reps (follow-ups in the last 7 and 30 days; won this month)"),
                 header_style="bold", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    reps.add_column(_("rep"), no_wrap=True)
    for heading in (_("owned"), _("7d"), _("30d"), _("overdue"), _("recycle"), _("won"),
                    _("won amount")):
        reps.add_column(heading, justify="right", no_wrap=True)
    lines = list(board.reps)
    if len(lines) > 1:
        lines.append(board.totals)
    for line in lines:
        label = _("total") if line is lines[-1] and len(board.reps) > 1 else line.login
        reps.add_row(plain(label), str(line.owned), str(line.follow_ups_7d),
                     str(line.follow_ups_30d), str(line.overdue), str(line.recycle_soon),
                     str(line.won_this_month), _money(line.won_amount_this_month))
    out.print(reps)

    pipeline = Table(title=_("Pipeline"), header_style="bold", title_justify="left",
                     box=box.SIMPLE_HEAD)
    for heading in (_("stage"), _("deals"), _("amount"), _("weighted")):
        pipeline.add_column(heading, justify="left" if heading == _("stage") else "right")
    for stage in board.pipeline:
        pipeline.add_row(stage.stage, str(stage.count), _money(stage.amount), _money(stage.weighted))
    out.print(pipeline)

    value = Table(title=_("Customers by value"), header_style="bold", title_justify="left",
                  box=box.SIMPLE_HEAD)
    value.add_column(_("tier"))
    value.add_column(_("customers"), justify="right")
    value.add_column(_("RFM segment"))
    value.add_column(_("customers"), justify="right")
    tiers = list(board.tiers.items())
    segments = list(board.rfm.items())
    for index in range(max(len(tiers), len(segments))):
        tier = tiers[index] if index < len(tiers) else ("", "")
        segment = segments[index] if index < len(segments) else ("", "")
        value.add_row(str(tier[0]), str(tier[1]), str(segment[0]), str(segment[1]))
    out.print(value)

    weeks = board.open_sea.weeks
    sea = Table(title=_("Open sea: {size} customers").format(size=board.open_sea.size),
                header_style="bold", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    sea.add_column(_("week of"))
    sea.add_column(_("in"), justify="right")
    sea.add_column(_("out"), justify="right")
    for week in weeks:
        sea.add_row(week.week.isoformat(), str(week.inflow), str(week.outflow))
    out.print(sea)
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
