"""What an import did: the report, and the skipped and rejected rows in it and beside the file.

Every row read ends as exactly one of added, merged, skipped or rejected, so ``read == added +
merged + skipped + rejected``. Skipped and rejected rows are written beside the input as
``NAME.rejected.csv`` (UTF-8 with BOM, Excel dialect) with their original cells plus
``rejected_row`` and ``rejected_reason``; the importer ignores those two columns, so the file can
be fixed and imported again.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from crm_tui.store.errors import CrmError
from crm_tui.store.files.importing.columns import REJECTED_REASON, REJECTED_ROW, Column

PROBLEM_LIMIT = 1000


@dataclass
class ImportReport:
    """What an import did: the counts add up to the rows read."""

    file: str
    format: str
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    dry_run: bool = False
    pool: bool = False
    on_duplicate: str = "skip"
    header_row: int = 1
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    read: int = 0
    added: int = 0
    merged: int = 0
    skipped: int = 0
    rejected: int = 0
    blank: int = 0
    preamble: int = 0
    conflicts: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    problems: list[dict[str, Any]] = field(default_factory=list)
    conflict_examples: list[dict[str, Any]] = field(default_factory=list)
    rejected_file: str | None = None
    rejected_file_error: str | None = None
    added_ids: list[int] = field(default_factory=list)
    stopped: str | None = None

    @property
    def balanced(self) -> bool:
        return self.read == self.added + self.merged + self.skipped + self.rejected

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "format": self.format, "encoding": self.encoding,
            "delimiter": self.delimiter, "sheet": self.sheet, "dry_run": self.dry_run,
            "pool": self.pool, "on_duplicate": self.on_duplicate, "header_row": self.header_row,
            "columns": self.columns, "ignored_columns": self.ignored_columns,
            "read": self.read, "added": self.added, "merged": self.merged,
            "skipped": self.skipped, "rejected": self.rejected, "blank": self.blank,
            "preamble": self.preamble, "conflicts": self.conflicts,
            "reasons": dict(self.reasons.most_common()),
            "problems": self.problems, "problems_truncated": len(self.problems) >= PROBLEM_LIMIT
            and self.skipped + self.rejected > len(self.problems),
            "conflict_examples": self.conflict_examples,
            "rejected_file": self.rejected_file, "rejected_file_error": self.rejected_file_error,
            "stopped": self.stopped,
        }


class ImportStopped(CrmError):
    """A batch failed (the database went away, ...): earlier batches stay, this one is undone;
    or the file could not be read to its end (``exit_code`` 2): the rows before are imported."""

    exit_code = 1

    def __init__(self, message: str, report: ImportReport, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.report = report
        if exit_code is not None:
            self.exit_code = exit_code


@dataclass
class ImportPreview:
    """The first rows of a file and how its columns would be mapped (for the TUI screen)."""

    report: ImportReport
    headers: list[str]
    columns: list[Column]
    sample: list[list[str]]



class ProblemRows:
    """The skipped and rejected rows of an import: counted in the report, written to the
    rejected file (not in a dry run). A batch's rows are noted as it is decided and recorded in
    row order when it is done, or dropped when it is undone."""

    def __init__(self, report: ImportReport, headers: list[str], source: Path,
                 dry_run: bool) -> None:
        self.report, self.headers, self.source, self.dry_run = report, headers, source, dry_run
        self.width = len(headers)
        self.keep = [i for i, h in enumerate(headers) if h not in (REJECTED_ROW, REJECTED_REASON)]
        self.pending: list[tuple[int, list[str], str, str]] = []
        self.writer: Any = None  # a csv writer, once the first row is written
        self.handle: IO[str] | None = None

    def note(self, number: int, cells: list[str], status: str, reason: str) -> None:
        """Note a skipped or rejected row of the batch being decided."""
        self.pending.append((number, cells, status, reason))

    def drop(self) -> None:
        """Forget the batch's notes (the batch was undone)."""
        self.pending = []

    def flush(self) -> None:
        """Record the batch's notes in row order: counts, reasons, examples, the rejected file."""
        report = self.report
        for number, cells, status, reason in sorted(self.pending, key=lambda p: p[0]):
            if status == "rejected":
                report.rejected += 1
            else:
                report.skipped += 1
            report.reasons[reason_kind(reason)] += 1
            if len(report.problems) < PROBLEM_LIMIT:
                report.problems.append({"row": number, "status": status, "reason": reason})
            if not self.dry_run:
                self._write_rejected(number, cells, reason)
        self.pending = []

    def _write_rejected(self, number: int, cells: list[str], reason: str) -> None:
        report = self.report
        if report.rejected_file_error:
            return
        if self.writer is None:
            target = self.source.with_name(f"{self.source.stem}.rejected.csv")
            try:
                self.handle, target = open_fresh(target)
            except OSError as exc:
                report.rejected_file_error = f"{target}: {exc.strerror or exc}"
                return
            self.writer = csv.writer(self.handle, dialect="excel")
            self.writer.writerow(
                [REJECTED_ROW, REJECTED_REASON, *(self.headers[i] for i in self.keep)]
            )
            report.rejected_file = str(target)
        kept = [cells[i] if i < len(cells) else "" for i in self.keep] + cells[self.width:]
        self.writer.writerow([number, reason, *kept])

    def close(self) -> None:
        """Close the rejected file, if one was opened."""
        if self.handle is not None:
            self.handle.close()
            self.handle = None


FRESH_NAMES = 100


def open_fresh(target: Path) -> tuple[IO[str], Path]:
    """A new file at ``target`` for the rejected rows, never written through a symlink nor over
    a file this account did not make (issue 22, item 5: a colleague's planted
    ``leads.rejected.csv`` symlink must not overwrite a file of ours).

    An earlier run's rejected file, a regular file of our own, is replaced; anything else at
    that name (a symlink, another account's file, a FIFO) is left alone and the rows go to
    ``NAME.rejected-2.csv`` and so on. Every candidate is created with ``O_CREAT | O_EXCL |
    O_NOFOLLOW``, so one planted after the check is not followed either. Bytes that were not
    valid text in the input go back as they were (``surrogateescape``).
    """
    import errno
    import os
    import stat

    candidates = [target] + [target.with_name(f"{target.name[:-len('.rejected.csv')]}"
                                              f".rejected-{n}.csv") for n in range(2, FRESH_NAMES)]
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for candidate in candidates:
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            info = None
        if info is not None and stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid():
            try:
                os.unlink(candidate)  # our own earlier rejected file: replaced
            except OSError:
                continue
        elif info is not None:
            continue
        try:
            fd = os.open(candidate, flags, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                continue
            raise
        return open(fd, "w", encoding="utf-8-sig", errors="surrogateescape",
                    newline=""), candidate
    raise FileExistsError(errno.EEXIST, f"{FRESH_NAMES} rejected files exist already", str(target))


def reason_kind(reason: str) -> str:
    """A short label for counting reasons: the field named, or the kind of duplicate."""
    if reason.startswith("already exists"):
        return "owned by another rep"
    if reason.startswith("duplicate of row"):
        return "duplicate in the file"
    if reason.startswith("duplicate of customer"):
        return "duplicate in the database"
    if reason.startswith("private_cap"):
        return "private_cap"
    if reason.startswith("the row has"):
        return "too many cells"
    head = reason.split(":", 1)[0]
    return head if len(head) <= 40 else "invalid"

