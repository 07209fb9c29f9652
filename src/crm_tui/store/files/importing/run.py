"""One import in progress: batches prepared, matched, decided and written, one transaction each.

Each batch of ``BATCH_SIZE`` rows is looked up, decided and written in one transaction, so it is
written whole or not at all, and re-running a file finds the first run's customers. DESIGN §5
holds: a match owned by another rep is never merged into nor duplicated by a non-admin; the row
is skipped as "already exists, owned by X". Otherwise ``on_duplicate`` decides: ``skip``,
``merge`` or ``create`` (a look-alike). New customers go to the importer's private sea, or the
open sea with ``pool``; the private cap holds (rows beyond it are rejected as ``private_cap``).
A dry run decides everything the same way in read-only transactions and writes nothing.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from crm_tui.store.children import die_with_parent
from crm_tui.store.errors import CrmError
from crm_tui.store.files.importing.columns import Column
from crm_tui.store.files.importing.matching import (
    KeyIndex,
    Target,
    dedupe,
    duplicate_reason,
    lookup,
)
from crm_tui.store.files.importing.merging import Merge, Merger
from crm_tui.store.files.importing.report import ImportReport, ImportStopped, ProblemRows
from crm_tui.store.files.importing.rows import PreparedRow, RawRow, RowSpec, prepare_batch
from crm_tui.store.files.importing.writer import Writer
from crm_tui.store.records import Actor
from crm_tui.store.schema.tables import customer as customer_t

if TYPE_CHECKING:
    from concurrent.futures import Future

    from crm_tui.store.store import Store

BATCH_SIZE = 2000
ON_DUPLICATE = ("skip", "merge", "create")

Progress = Callable[[int, int], None]  # (rows done, rows in all), the latter an estimate


class ImportRun:
    """One import in progress: the in-file index, the problem rows, the writer, the counters."""

    def __init__(self, store: Store, actor: Actor, report: ImportReport, headers: list[str],
                 columns: list[Column], on_duplicate: str, pool: bool, dry_run: bool,
                 source: Path) -> None:
        self.store, self.actor, self.report = store, actor, report
        self.on_duplicate, self.pool, self.dry_run = on_duplicate, pool, dry_run
        self.index = KeyIndex()  # the customers this import added (or merged into)
        self.spec = RowSpec(tuple(columns), len(headers),
                            str(store.rules()["default_phone_region"]))
        self.problems = ProblemRows(report, headers, source, dry_run)
        self.merger = Merger(store, self.index, report)
        self.writer = Writer(store, actor, report, f"imported from {source.name}"[:500])

    def close(self) -> None:
        """Close the rejected file."""
        self.problems.close()

    def run_batch(self, raw_rows: list[RawRow],
                  prepared: list[PreparedRow | str] | None = None) -> None:
        """Prepare (unless a worker did), look up, decide and write one batch in one
        transaction: all of it or none of it."""
        store, report = self.store, self.report
        before = (report.added, report.merged, report.conflicts, len(report.added_ids),
                  len(report.conflict_examples))
        if prepared is None:
            prepared = prepare_batch(self.spec, raw_rows)
        rows = []
        for (number, cells), outcome in zip(raw_rows, prepared, strict=True):
            if isinstance(outcome, str):
                self.problems.note(number, cells, "rejected", outcome)
            else:
                outcome.cells = cells
                rows.append(outcome)
        try:
            if rows:
                transaction = store.read() if self.dry_run else store.write()
                with transaction as conn:
                    if store.is_sqlite and not self.dry_run:
                        # A bigger page cache for this connection: thousands of index and FTS
                        # inserts per transaction touch far more pages than the 2 MB default.
                        conn.exec_driver_sql("PRAGMA cache_size = -65536")
                    self._decide_and_write(conn, rows)
        except Exception as exc:
            # The batch was rolled back whole: none of its rows count, and the import stops.
            (report.added, report.merged, report.conflicts, n_ids, n_examples) = before
            del report.added_ids[n_ids:]
            del report.conflict_examples[n_examples:]
            self.problems.drop()
            first, last = raw_rows[0][0], raw_rows[-1][0]
            reason = str(exc) if isinstance(exc, CrmError) else f"{type(exc).__name__}: {exc}"
            report.stopped = (f"rows {first} to {last} were not imported ({reason}); the rows "
                              "before them were, and importing the file again skips those")
            raise ImportStopped(f"The import stopped: {report.stopped}.", report) from exc
        report.read += len(raw_rows)
        self.problems.flush()

    def _decide_and_write(self, conn: Connection, rows: list[PreparedRow]) -> None:
        store, actor, report = self.store, self.actor, self.report
        note = self.problems.note
        owner_id = None if self.pool else actor.id
        room: int | None = None
        if owner_id is not None:
            if not self.dry_run:
                store._lock_rep(conn, owner_id)
            cap = int(store.rule(conn, "private_cap"))
            if cap > 0:
                owned = store._count(conn, customer_t.c.owner_id == owner_id)
                room = max(0, cap - owned - (report.added if self.dry_run else 0))
        found = lookup(store, conn, rows)
        added: list[Target] = []
        merges: dict[int, Merge] = {}
        for row in rows:
            matches = dedupe(found.matches(row) + self.index.matches(row))
            others = [(t, on) for t, on in matches
                      if t.owner_id is not None and t.owner_id != actor.id]
            if others and not actor.is_admin:
                target, on = others[0]
                who = target.owner_name or target.owner_login
                note(row.number, row.cells, "skipped",
                     f"already exists (same {on}), owned by {who} ({target.owner_login})")
                continue
            if matches and self.on_duplicate == "skip":
                note(row.number, row.cells, "skipped", duplicate_reason(*matches[0], actor))
                continue
            if matches and self.on_duplicate == "merge":
                target, on = matches[0]
                if self.merger.merge(conn, row, target, merges):
                    report.merged += 1
                else:
                    note(row.number, row.cells, "skipped",
                         duplicate_reason(target, on, actor) + "; nothing new to merge")
                continue
            if room is not None:
                if room <= 0:
                    note(row.number, row.cells, "rejected",
                         "private_cap: your private sea is full (rule private_cap); "
                         "import these rows with --pool or after the cap is raised")
                    continue
                room -= 1
            target = Target(None, owner_id, actor.login, actor.name, row=row.number, pending=row)
            self.index.add_row(target, row)
            added.append(target)
            report.added += 1
        if not self.dry_run:
            self.writer.write_added(conn, added, owner_id)
            self.writer.write_merges(conn, list(merges.values()))
            store._changed(conn, [t.customer_id for t in added if t.customer_id] + list(merges))
        for target in added:
            target.pending = None  # keep the index small: keys and ids only


def run_batches(run: ImportRun, batches: Iterator[list[RawRow]], total: int,
                progress: Progress | None, parallel: bool) -> None:
    """Every batch through ``run``, in file order; ``parallel`` prepares them in workers."""
    if parallel:
        _run_pipelined(run, batches, total, progress)
    else:
        for batch in batches:
            run.run_batch(batch)
            if progress:
                progress(batch[-1][0], max(total, batch[-1][0]))
    if progress:
        progress(max(total, 1), max(total, 1))


def _run_pipelined(run: ImportRun, batches: Iterator[list[RawRow]], total: int,
                   progress: Progress | None) -> None:
    """Batches prepared in worker processes, looked up and written here, in file order.

    The first batch is prepared here, which also loads the validators' libraries (phonenumbers,
    email-validator) and warms the pinyin cache the forked workers inherit. Workers fork when this process has no other thread (a
    Rich progress bar runs one), else start from a fork server. Should a worker die, the
    remaining batches are prepared here.
    """
    import multiprocessing
    import threading
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    first = next(batches, None)
    if first is None:
        return
    run.run_batch(first)
    if progress:
        progress(first[-1][0], max(total, first[-1][0]))
    workers = max(1, min(2, os.cpu_count() or 1))
    method = "fork" if threading.active_count() == 1 else "forkserver"
    if method not in multiprocessing.get_all_start_methods():
        method = "spawn"
    queue: deque[tuple[list[RawRow], Future[list[PreparedRow | str]] | None]] = deque()
    broken = False
    # A worker ends with its parent (children.py): this process, or the fork server.
    parent = os.getpid() if method in ("fork", "spawn") else None
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                             initializer=die_with_parent, initargs=(parent,)) as pool:
        try:
            for batch in itertools.chain(batches, [None]):
                if batch is not None:
                    future = None if broken else pool.submit(prepare_batch, run.spec, batch)
                    queue.append((batch, future))
                    if len(queue) <= workers:
                        continue
                while queue and (batch is None or len(queue) > workers):
                    ready, pending = queue.popleft()
                    prepared = None
                    if pending is not None and not broken:
                        try:
                            prepared = pending.result()
                        except BrokenProcessPool:
                            broken = True
                    run.run_batch(ready, prepared)
                    if progress:
                        progress(ready[-1][0], max(total, ready[-1][0]))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
