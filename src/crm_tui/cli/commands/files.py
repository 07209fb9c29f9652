"""Import and export commands: crm import, crm export."""

from __future__ import annotations

import sys
from typing import Any

import typer

from crm_tui.cli.app import Context, app, console, emit_json, fail, plain, run
from crm_tui.i18n import _

JSON_OPTION = typer.Option(False, "--json", help=_("Print one JSON document."))


def import_report_text(report: Any) -> list[Any]:
    """The import report as lines for a terminal (Rich renderables)."""
    from rich.table import Table
    from rich.text import Text

    lines: list[Any] = []
    what = report.format.upper()
    if report.encoding:
        what += f", {report.encoding}"
    if report.sheet:
        what += _(", sheet {sheet}").format(sheet=report.sheet)
    heading = _("Dry run of {file} ({what}): nothing was written.") if report.dry_run else _(
        "Imported {file} ({what}).")
    lines.append(plain(heading.format(file=report.file, what=what)))
    mapping = Table(show_header=True, header_style="bold", box=None, padding=(0, 2, 0, 0))
    mapping.add_column(_("column"))
    mapping.add_column(_("field"))
    for column, target in report.columns.items():
        mapping.add_row(plain(column), plain(target))
    for column in report.ignored_columns:
        mapping.add_row(plain(column), _("(ignored: managed by crm)"))
    lines.append(mapping)
    counts = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    counts.add_column(justify="left")
    counts.add_column(justify="right")
    counts.add_row(_("rows read"), str(report.read))
    counts.add_row(_("added"), str(report.added))
    counts.add_row(_("merged"), str(report.merged))
    counts.add_row(_("skipped as duplicates"), str(report.skipped))
    counts.add_row(_("rejected"), str(report.rejected))
    if report.blank:
        counts.add_row(_("blank lines (not rows)"), str(report.blank))
    if report.preamble:
        counts.add_row(_("title lines above the header"), str(report.preamble))
    lines.append(counts)
    if report.reasons:
        reasons = ", ".join(f"{kind}: {n}" for kind, n in report.reasons.most_common())
        lines.append(plain(_("Why not imported: {reasons}.").format(reasons=reasons)))
    if report.conflicts:
        lines.append(plain(_(
            "{n} values differed from a non-empty value of the customer they were merged into; "
            "the existing values were kept (see --json)."
        ).format(n=report.conflicts)))
    if report.rejected_file:
        lines.append(plain(_("Rejected and skipped rows, with the reason: {file}").format(
            file=report.rejected_file)))
    if report.rejected_file_error:
        lines.append(plain(_("Could not write the rejected rows: {error}").format(
            error=report.rejected_file_error)))
    if report.dry_run and report.problems:
        shown = report.problems[:10]
        for problem in shown:
            lines.append(plain(_("  row {row}: {status}: {reason}").format(**problem)))
        more = report.skipped + report.rejected - len(shown)
        if more > 0:
            lines.append(plain(_("  ... and {n} more (see --json)").format(n=more)))
    if report.stopped:
        lines.append(Text(_("Stopped: {why}.").format(why=report.stopped)))
    return lines


def print_report(report: Any) -> None:
    """Print the import report; sentences are never wrapped, so a path stays one piece."""
    from rich.text import Text

    out = console()
    for line in import_report_text(report):
        out.print(line, soft_wrap=isinstance(line, Text))


@app.command("import")
def import_(
    ctx: typer.Context,
    file: str = typer.Argument(..., help=_("CSV (any common encoding) or XLSX file.")),
    dry_run: bool = typer.Option(False, "--dry-run", help=_("Check everything, write nothing.")),
    mapping: list[str] = typer.Option(
        [], "--map", help=_("COLUMN=FIELD: put a column into a field (or extra, extra.KEY, ignore)."),
    ),
    on_duplicate: str = typer.Option(
        "skip", "--on-duplicate", help=_("skip, merge (fill empty fields) or create a look-alike."),
    ),
    pool: bool = typer.Option(False, "--pool", help=_("Put the new customers in the open sea.")),
    encoding: str | None = typer.Option(None, "--encoding", help=_("The CSV's encoding, if not detected.")),
    sheet: str | None = typer.Option(
        None, "--sheet", help=_("XLSX: the sheet to import (default: the first holding data)."),
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Import customers from CSV or XLSX; rejected rows are written beside the file."""

    def action(context: Context) -> None:
        from crm_tui.store.files.importing import ImportStopped

        store, actor = context.store, context.actor
        quiet = json_out or not sys.stderr.isatty()
        try:
            if quiet:
                report = store.import_file(actor, file, mapping=mapping, on_duplicate=on_duplicate,
                                           pool=pool, dry_run=dry_run, encoding=encoding,
                                           sheet=sheet)
            else:
                from crm_tui.cli.progress import progress_bar

                with progress_bar(_("Importing")) as advance:
                    report = store.import_file(actor, file, mapping=mapping,
                                               on_duplicate=on_duplicate, pool=pool,
                                               dry_run=dry_run, encoding=encoding,
                                               progress=advance, sheet=sheet)
        except ImportStopped as stopped:
            if json_out:
                emit_json(stopped.report.as_dict())
            else:
                print_report(stopped.report)
            raise fail(f"crm: {stopped}", stopped.exit_code) from None
        if json_out:
            emit_json(report.as_dict())
            return
        print_report(report)

    run(ctx, action)


@app.command("export")
def export(
    ctx: typer.Context,
    file: str | None = typer.Argument(
        None, help=_("File to write (a device or FIFO is written into); standard output when "
                     "omitted or -.")),
    fmt: str | None = typer.Option(None, "--format", help=_("csv, xlsx or json (default: from FILE).")),
    pool: bool = typer.Option(False, "--pool", help=_("Only the open sea.")),
    mine: bool = typer.Option(False, "--mine", help=_("Only my private sea.")),
    all_: bool = typer.Option(False, "--all", help=_("Everything I may see (default).")),
    json_out: bool = typer.Option(False, "--json", help=_("Report on the export to FILE as JSON.")),
) -> None:
    """Export the customers you may see, with contacts, tags and extra fields."""
    from crm_tui.cli.commands.core import _scope

    scope = _scope(pool, mine, all_)
    if file == "-":
        file = None
    # Written to standard output itself, the export must not be followed there by a report.
    to_stdout = file in ("/dev/stdout", "/dev/fd/1", "/proc/self/fd/1")
    if json_out and (file is None or to_stdout):
        raise fail(_("crm: --json reports on an export to a FILE; for JSON data use --format json."), 2)

    def action(context: Context) -> None:
        store, actor = context.store, context.actor
        if file is None:
            from crm_tui.store.files.exporting import format_for

            kind = format_for(None, fmt)
            if kind == "xlsx":
                raise fail(_("crm: an XLSX export needs a FILE to write to."), 2)
            result = store.export_customers(actor, None, fmt=kind, scope=scope, stream=sys.stdout)
            sys.stdout.flush()
            return
        if json_out or not sys.stderr.isatty():
            result = store.export_customers(actor, file, fmt=fmt, scope=scope)
        else:
            from crm_tui.cli.progress import progress_bar

            with progress_bar(_("Exporting")) as advance:
                result = store.export_customers(actor, file, fmt=fmt, scope=scope, progress=advance)
        if json_out:
            emit_json(result.as_dict())
        else:
            typer.echo(_("Exported {n} customers to {file} ({fmt}).").format(
                n=result.customers, file=result.file, fmt=result.format), err=to_stdout)

    run(ctx, action)
