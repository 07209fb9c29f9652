"""The import screen: pick a file, preview how its columns map, run with a progress bar, read the
report. Self-contained: it takes the store and the acting rep, and does its database work in
thread workers that only post messages (the app's threading rule)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Input,
    Label,
    ProgressBar,
    Select,
    Static,
)

from crm_tui.i18n import _
from crm_tui.present.textsafe import printable
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from crm_tui.store import Actor
    from crm_tui.store.api import StoreApi


class ImportScreen(CrmScreen):
    """Import customers from a CSV or XLSX file."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", _("Back"), id="import.back",
                tooltip=_("Leave the import screen")),
        Binding("ctrl+r", "run_import", _("Import"), id="import.run",
                tooltip=_("Import the file with these settings")),
    ]

    class Previewed(Message):
        def __init__(self, preview: Any) -> None:
            super().__init__()
            self.preview = preview

    class Progressed(Message):
        def __init__(self, done: int, total: int) -> None:
            super().__init__()
            self.done, self.total = done, total

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ImportScreen.Progressed)

    class Finished(Message):
        def __init__(self, report: Any, error: str | None = None) -> None:
            super().__init__()
            self.report, self.error = report, error

    def __init__(self, store: StoreApi, actor: Actor, path: str = "") -> None:
        super().__init__()
        self._store, self.actor, self.initial_path = store, actor, path

    @property
    def store(self) -> StoreApi:
        """The store it was given (the screen also runs in apps other than crm's)."""
        return self._store

    def compose(self) -> ComposeResult:
        with Vertical(id="import-form"):
            with Horizontal():
                yield Input(self.initial_path, placeholder=_("Path of a .csv or .xlsx file"),
                            id="import-path")
                yield Button(_("Preview"), id="import-preview")
            with Horizontal():
                yield Select([(_("skip duplicates"), "skip"), (_("merge into duplicates"), "merge"),
                              (_("create look-alikes"), "create")], value="skip",
                             allow_blank=False, id="import-duplicates")
                yield Checkbox(_("to the open sea"), id="import-pool")
                yield Checkbox(_("dry run"), id="import-dry-run")
                yield Button(_("Import"), variant="primary", id="import-run", disabled=True)
        yield Label(_("Columns"))
        yield DataTable(id="import-mapping", cursor_type="row", zebra_stripes=True)
        yield ProgressBar(id="import-progress", show_eta=False)
        yield Static("", id="import-report", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#import-mapping", DataTable)
        table.add_columns(_("column"), _("field"), _("first value"))
        if self.initial_path:
            self.preview(self.initial_path)

    # --- preview ------------------------------------------------------------------------------

    @on(Button.Pressed, "#import-preview")
    @on(Input.Submitted, "#import-path")
    def _ask_preview(self) -> None:
        path = self.query_one("#import-path", Input).value.strip()
        if path:
            self.query_one("#import-report", Static).update(_("Reading {path}…").format(
                path=printable(path)))
            self.preview(path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="import-preview")
    def preview(self, path: str) -> None:
        from crm_tui.store.errors import CrmError

        try:
            self.post_message(self.Previewed(self.store.preview_import(path)))
        except CrmError as exc:
            self.post_message(self.Finished(None, str(exc)))

    @on(Previewed)
    def _show_preview(self, event: Previewed) -> None:
        preview = event.preview
        table = self.query_one("#import-mapping", DataTable)
        table.clear()
        first = preview.sample[0] if preview.sample else []
        for column in preview.columns:
            value = first[column.index] if column.index < len(first) else ""
            target = _("(ignored)") if column.target == "ignore" else column.describe()
            table.add_row(Text(printable(column.header or f"#{column.index + 1}")), Text(target),
                          Text(printable(value)[:60]))
        report = preview.report
        what = report.format.upper() + (f", {report.encoding}" if report.encoding else "")
        self.query_one("#import-report", Static).update(
            _("{file} ({what}): {n} columns; header on row {row}.").format(
                file=printable(report.file), what=what, n=len(preview.columns),
                row=report.header_row))
        self.query_one("#import-run", Button).disabled = False

    # --- import -------------------------------------------------------------------------------

    @on(Button.Pressed, "#import-run")
    def action_run_import(self) -> None:
        path = self.query_one("#import-path", Input).value.strip()
        if not path or self.query_one("#import-run", Button).disabled:
            return
        self.query_one("#import-run", Button).disabled = True
        self.query_one("#import-progress", ProgressBar).update(total=None, progress=0)
        options = dict(
            on_duplicate=str(self.query_one("#import-duplicates", Select).value),
            pool=self.query_one("#import-pool", Checkbox).value,
            dry_run=self.query_one("#import-dry-run", Checkbox).value,
        )
        self.run_import(path, options)

    @work(thread=True, exclusive=True, exit_on_error=False, group="import-run")
    def run_import(self, path: str, options: dict[str, Any]) -> None:
        from crm_tui.store.errors import CrmError
        from crm_tui.store.files.importing import ImportStopped

        def progress(done: int, total: int) -> None:
            self.post_message(self.Progressed(done, total))

        try:
            report = self.store.import_file(self.actor, path, progress=progress,
                                            parallel=False, **options)
            self.post_message(self.Finished(report))
        except ImportStopped as stopped:
            self.post_message(self.Finished(stopped.report, str(stopped)))
        except CrmError as exc:
            self.post_message(self.Finished(None, str(exc)))

    @on(Progressed)
    def _show_progress(self, event: Progressed) -> None:
        self.query_one("#import-progress", ProgressBar).update(total=event.total,
                                                               progress=event.done)

    @on(Finished)
    def _show_report(self, event: Finished) -> None:
        self.query_one("#import-run", Button).disabled = False
        lines = []
        report = event.report
        if report is not None:
            heading = _("Dry run: nothing was written.") if report.dry_run else _("Imported.")
            lines.append(heading)
            lines.append(_("read {read} · added {added} · merged {merged} · skipped {skipped} · "
                           "rejected {rejected}").format(**report.as_dict()))
            if report.reasons:
                lines.append(", ".join(f"{printable(k)}: {n}" for k, n in report.reasons.items()))
            if report.rejected_file:
                lines.append(_("Rejected and skipped rows: {file}").format(
                    file=printable(report.rejected_file)))
        if event.error:
            lines.append(printable(event.error))
        self.query_one("#import-report", Static).update("\n".join(lines))
