"""``ImportOps``: the importer as ``Store`` methods (reached through ``files.ops.FileOps``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

from crm_tui.store.db.base import StoreBase
from crm_tui.store.errors import UsageError
from crm_tui.store.files.importing.columns import parse_map_options, read_header
from crm_tui.store.files.importing.report import ImportPreview, ImportReport, ImportStopped
from crm_tui.store.files.importing.rows import batches
from crm_tui.store.files.importing.run import (
    BATCH_SIZE,
    ON_DUPLICATE,
    ImportRun,
    Progress,
    run_batches,
)
from crm_tui.store.files.tabular import FileProblem, open_table
from crm_tui.store.records import Actor

if TYPE_CHECKING:
    from crm_tui.store.store import Store


class ImportOps(StoreBase):
    """Importing customer tables (mixed into ``Store``)."""

    def preview_import(self, path: str | Path, *, mapping: Iterable[str] = (),
                       encoding: str | None = None, rows: int = 10,
                       sheet: str | None = None) -> ImportPreview:
        """Open ``path``, map its columns and return its first ``rows`` data rows; writes nothing."""
        report = ImportReport(file=str(path), format="")
        with open_table(path, encoding=encoding, sheet=sheet) as table:
            headers, columns = read_header(table, report, parse_map_options(mapping))
            sample = []
            for _, cells in table.rows:
                if not any(c.strip() for c in cells):
                    continue
                sample.append(cells)
                if len(sample) >= rows:
                    break
        return ImportPreview(report, headers, columns, sample)

    def import_file(
        self,
        actor: Actor,
        path: str | Path,
        *,
        mapping: Iterable[str] = (),
        on_duplicate: str = "skip",
        pool: bool = False,
        dry_run: bool = False,
        encoding: str | None = None,
        progress: Progress | None = None,
        batch_size: int = BATCH_SIZE,
        parallel: bool | None = None,
        sheet: str | None = None,
    ) -> ImportReport:
        """Import the customers of a CSV or XLSX file; see the package docstring for the rules.

        ``parallel`` prepares (parses, validates, tokenises) the next batch in a worker process
        while this one looks up and writes the current one; by default for files of more than
        four batches on a machine with more than one CPU. ``sheet`` names the XLSX worksheet.

        A file that cannot be read to its end (broken XML half-way, say) stops the import
        there: the rows read before are imported as usual, the rejected file is written, and
        ``ImportStopped`` (exit 2) carries the report, which says what was committed.
        """
        if on_duplicate not in ON_DUPLICATE:
            raise UsageError(f"--on-duplicate must be one of {', '.join(ON_DUPLICATE)}, "
                             f"not {on_duplicate!r}.")
        overrides = parse_map_options(mapping)
        source = Path(path).expanduser()
        report = ImportReport(file=str(source), format="", dry_run=dry_run, pool=pool,
                              on_duplicate=on_duplicate)
        # Mixed into Store (through FileOps), so self is the whole store: its customers' tags,
        # search text and duplicate check are what the run reads.
        store = cast("Store", self)
        with open_table(source, encoding=encoding, sheet=sheet) as table:
            headers, columns = read_header(table, report, overrides)
            run = ImportRun(store, actor, report, headers, columns, on_duplicate, pool, dry_run,
                            source)
            total = table.estimated_rows or 0
            if parallel is None:
                parallel = total > 4 * batch_size and (os.cpu_count() or 1) > 1
            reading = ReadUntilBroken(table.rows)
            table.rows = reading.rows()
            try:
                run_batches(run, batches(table, report, batch_size), total, progress, parallel)
            finally:
                run.close()
        if reading.problem is not None:
            committed = "nothing was written (a dry run)" if dry_run else (
                f"of the rows before it, {report.added} added and {report.merged} merged are "
                "committed, and importing the file again skips those")
            report.stopped = f"{str(reading.problem).rstrip('.')}; {committed}"
            raise ImportStopped(f"The import stopped: {report.stopped}.", report,
                                exit_code=reading.problem.exit_code)
        return report


class ReadUntilBroken:
    """A table's rows until the file cannot be read any further; the ``FileProblem`` that
    ended them is kept in ``problem`` instead of breaking off the batch being gathered."""

    def __init__(self, rows: Iterator[tuple[int, list[str]]]) -> None:
        self._rows = rows
        self.problem: FileProblem | None = None

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        try:
            yield from self._rows
        except FileProblem as problem:
            self.problem = problem
