"""``crm export``: what the caller may see, as CSV, XLSX or JSON, streamed page by page.

Only customers inside ``scope_clause(actor, scope)`` are read, through the same record builder
as every listing, so open-sea contacts are masked as they are elsewhere. Rows are fetched in
pages by id (keyset), never all at once, and written as they come.

Columns (CSV and XLSX) are ``importing.EXPORT_COLUMNS`` followed by one column per ``extra`` key
found among the exported customers (a key that collides with a column is written as
``extra.KEY``). Tags are one cell (``a, b``; a JSON list when a tag holds a separator); contacts
one cell holding a JSON list of ``{name, title, phone, email, wechat, is_primary}`` — what the
importer reads back, so an export imports as the same customers.

CSV is UTF-8 with a BOM when written to a file (so Excel shows Chinese right), Excel dialect,
CRLF; a cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'`` so a
spreadsheet never runs it as a formula (the importer removes that quote again). In XLSX a text
cell is always written as text, never as a formula.
"""

from __future__ import annotations

import csv
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select, true

from crm_tui.store.db.base import StoreBase, customer_select, customer_t
from crm_tui.store.errors import UsageError
from crm_tui.store.files.importing import EXPORT_COLUMNS, REJECTED_REASON, REJECTED_ROW, header_key
from crm_tui.store.records import Actor, CustomerRecord, jsonable
from crm_tui.store.schema.tables import contact as contact_t
from crm_tui.store.validate import TAG_SEPARATORS

FORMATS = ("csv", "xlsx", "json")
PAGE_SIZE = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """A CSV cell a spreadsheet will show as text, never evaluate (OWASP CSV injection)."""
    if cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell


def format_for(path: str | Path | None, fmt: str | None) -> str:
    """The export format: ``fmt`` when given, else from the file's extension (csv without one)."""
    if fmt:
        lowered = fmt.lower()
        if lowered not in FORMATS:
            raise UsageError(f"Unknown export format {fmt!r}: use csv, xlsx or json.")
        return lowered
    if path is None:
        return "csv"
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    raise UsageError(
        f"Cannot tell the format from {Path(path).name!r}: name it .csv, .xlsx or .json, "
        "or give --format."
    )


@dataclass
class ExportResult:
    file: str | None
    format: str
    scope: str
    customers: int
    columns: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "format": self.format, "scope": self.scope,
                "customers": self.customers, "columns": self.columns}


@dataclass
class ExportRow:
    """One customer as exported: the record (masked as the caller sees it) and its contacts."""

    customer: CustomerRecord
    contacts: list[dict[str, Any]]


def tags_cell(tags: list[str]) -> str:
    """The tags as one cell ``validate.parse_tags`` reads back as the same tags: a JSON list when
    a tag holds a separator (or could read as JSON), else comma-separated."""
    if any(sep in tag for tag in tags for sep in TAG_SEPARATORS) or any(
        tag.startswith("[") for tag in tags
    ):
        return json.dumps(tags, ensure_ascii=False)
    return ", ".join(tags)


def contacts_cell(contacts: list[dict[str, Any]]) -> str:
    if not contacts:
        return ""
    compact = [{k: v for k, v in c.items() if v not in (None, "", False)} for c in contacts]
    return json.dumps(compact, ensure_ascii=False, separators=(",", ":"))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(jsonable(value), ensure_ascii=False)
    converted = jsonable(value)
    return converted if isinstance(converted, str) else str(converted)


class ExportOps(StoreBase):
    """Exporting the customers an actor may see (mixed into ``Store``)."""

    def export_count(self, actor: Actor, scope: str = "all") -> int:
        with self.read() as conn:
            return self._count(conn, self.scope_clause(actor, scope))

    def export_extra_keys(self, actor: Actor, scope: str = "all") -> list[str]:
        """Every ``extra`` key among the customers ``actor`` would export, sorted."""
        where = self.scope_clause(actor, scope)
        if self.is_sqlite:
            pairs = func.json_each(customer_t.c.extra).table_valued("key", name="extra_pairs")
            statement = (
                select(pairs.c.key).select_from(customer_t).join(pairs, true())
                .where(where, func.json_type(customer_t.c.extra) == "object").distinct()
            )
        else:
            statement = (
                select(func.json_object_keys(customer_t.c.extra).label("key"))
                .where(where, func.json_typeof(customer_t.c.extra) == "object").distinct()
            )
        with self.read() as conn:
            return sorted(str(key) for key in conn.execute(statement).scalars() if key is not None)

    def iter_export(self, actor: Actor, scope: str = "all",
                    page_size: int = PAGE_SIZE) -> Iterator[ExportRow]:
        """The visible customers in ``scope`` by id, one short read per page."""
        where = self.scope_clause(actor, scope)
        last = 0
        while True:
            with self.read() as conn:
                rows = conn.execute(
                    customer_select().where(where, customer_t.c.id > last)
                    .order_by(customer_t.c.id).limit(page_size)
                ).all()
                if not rows:
                    return
                records = self._records(conn, rows, actor)
                contacts: dict[int, list[dict[str, Any]]] = {}
                for c in conn.execute(
                    select(contact_t).where(contact_t.c.customer_id.in_([r.id for r in rows]))
                    .order_by(contact_t.c.customer_id, contact_t.c.is_primary.desc(),
                              contact_t.c.id)
                ):
                    contacts.setdefault(c.customer_id, []).append(dict(
                        name=c.name, title=c.title, phone=c.phone, email=c.email,
                        wechat=c.wechat, is_primary=bool(c.is_primary)))
            for record in records:
                people = contacts.get(record.id, [])
                if record.masked:
                    people = [dict(p, phone=None, email=None, wechat=None) for p in people]
                yield ExportRow(record, people)
            last = rows[-1].id
            if len(rows) < page_size:
                return

    def export_customers(
        self,
        actor: Actor,
        path: str | Path | None = None,
        *,
        fmt: str | None = None,
        scope: str = "all",
        stream: IO[str] | None = None,
        progress: Callable[[int, int], None] | None = None,
        page_size: int = PAGE_SIZE,
    ) -> ExportResult:
        """Write what ``actor`` may see in ``scope`` to ``path`` (or the text ``stream``)."""
        kind = format_for(path, fmt)
        if scope not in ("all", "mine", "pool"):
            raise UsageError(f"Unknown scope {scope!r}: use all, mine or pool.")
        if path is None and stream is None:
            raise UsageError("Name a file to export to.")
        if path is None and kind == "xlsx":
            raise UsageError("An XLSX export needs a FILE to write to.")
        total = self.export_count(actor, scope)
        extra_keys = [] if kind == "json" else self.export_extra_keys(actor, scope)
        reserved = {header_key(h) for h in (*EXPORT_COLUMNS, REJECTED_ROW, REJECTED_REASON)}
        headers = list(EXPORT_COLUMNS) + [
            f"extra.{key}" if header_key(key) in reserved or key.casefold().startswith("extra.")
            or not key.strip() else key
            for key in extra_keys
        ]
        rows = self.iter_export(actor, scope, page_size)
        done = 0

        def counted() -> Iterator[ExportRow]:
            nonlocal done
            for row in rows:
                yield row
                done += 1
                if progress and (done % 500 == 0 or done == total):
                    progress(done, max(total, done))

        if path is None:
            assert stream is not None
            _write(kind, stream, counted(), headers, extra_keys)
        else:
            _write_to_path(Path(path).expanduser(), kind, counted(), headers, extra_keys)
        if progress:
            progress(done, max(done, 1))
        return ExportResult(None if path is None else str(path), kind, scope, done,
                            headers if kind != "json" else [])


def _write_to_path(target: Path, kind: str, rows: Iterator[ExportRow], headers: list[str],
                   extra_keys: list[str]) -> None:
    """Write the export to ``target`` the way its kind of file needs (issue 22, item 6).

    A regular file (or a new name) is replaced atomically: the export goes to a fresh temporary
    file beside it (``O_EXCL``), renamed over the name at the end, so a symlink planted at that
    name is replaced, never written through, and a failed export leaves the old file whole.
    ``/dev/stdout``, ``/dev/fd/N`` and the like are written through the descriptor they name; a
    device or a FIFO is written into directly (never replaced by a regular file).
    """
    try:
        descriptor = _named_descriptor(target)
        if descriptor is not None:
            _write_stream(kind, os.dup(descriptor), rows, headers, extra_keys)
            return
        try:
            info = os.stat(target)
        except FileNotFoundError:
            info = None
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise UsageError(f"{str(target)!r} is a folder; name a file to export to.")
        if info is not None and not stat.S_ISREG(info.st_mode):
            # A device or FIFO: opened as it is, without creating or truncating anything.
            fd = os.open(target, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
            _write_stream(kind, fd, rows, headers, extra_keys)
            return
        folder = target.parent if str(target.parent) else Path(".")
        if not folder.is_dir():
            raise UsageError(f"The folder {str(folder)!r} does not exist.")
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name[:100]}.", dir=folder)
        os.close(handle)
        try:
            if kind == "xlsx":
                _write_xlsx(Path(temporary), rows, headers, extra_keys)
            else:
                with open(temporary, "w", encoding="utf-8-sig" if kind == "csv" else "utf-8",
                          newline="") as out:
                    _write(kind, out, rows, headers, extra_keys)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        import errno

        if exc.errno == errno.ENAMETOOLONG:
            raise UsageError(f"The file name {str(target)[:80]!r}... is too long.") from None
        raise UsageError(f"Cannot write {str(target)!r}: {exc.strerror or exc}.") from None


_DESCRIPTOR_PATHS = {"/dev/stdout": 1, "/dev/stderr": 2}


def _named_descriptor(target: Path) -> int | None:
    """The open descriptor ``target`` names (``/dev/stdout``, ``/dev/fd/3``,
    ``/proc/self/fd/3``), or None for any other path."""
    name = str(target)
    if name in _DESCRIPTOR_PATHS:
        return _DESCRIPTOR_PATHS[name]
    for prefix in ("/dev/fd/", "/proc/self/fd/"):
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            return int(name[len(prefix):])
    return None


def _write_stream(kind: str, fd: int, rows: Iterator[ExportRow], headers: list[str],
                  extra_keys: list[str]) -> None:
    """The export written into the open descriptor ``fd`` (a device, a FIFO, standard output),
    which this closes: XLSX as bytes (a ZIP archive needs no seeking to be written), the others
    as UTF-8 text."""
    if kind == "xlsx":
        with os.fdopen(fd, "wb") as binary:
            _write_xlsx(binary, rows, headers, extra_keys)
    else:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as text:
            _write(kind, text, rows, headers, extra_keys)


def _cells(row: ExportRow, extra_keys: list[str]) -> list[Any]:
    c = row.customer
    values: dict[str, Any] = {
        "id": c.id, "name": c.name, "kind": c.kind, "company": c.company,
        "industry": c.industry, "region": c.region, "address": c.address, "phone": c.phone,
        "email": c.email, "source": c.source, "status": c.status, "tier": c.tier,
        "tags": tags_cell(c.tags), "notes": c.notes, "contacts": contacts_cell(row.contacts),
        "owner": c.owner, "locked": c.locked, "last_follow_up_at": c.last_follow_up_at,
        "next_follow_up_at": c.next_follow_up_at, "created_at": c.created_at,
        "updated_at": c.updated_at,
    }
    return [_text(values[name]) for name in EXPORT_COLUMNS] + [
        _text(c.extra.get(key)) for key in extra_keys
    ]


def _write(kind: str, out: IO[str], rows: Iterator[ExportRow], headers: list[str],
           extra_keys: list[str]) -> None:
    if kind == "json":
        out.write("[")
        first = True
        for row in rows:
            data = row.customer.as_dict()
            data["contacts"] = row.contacts
            out.write(("\n  " if first else ",\n  ") + json.dumps(data, ensure_ascii=False))
            first = False
        out.write("\n]\n" if not first else "]\n")
        return
    writer = csv.writer(out, dialect="excel")
    writer.writerow([neutralise(h) for h in headers])
    for row in rows:
        writer.writerow([neutralise(cell) for cell in _cells(row, extra_keys)])


def _write_xlsx(path: Path | IO[bytes], rows: Iterator[ExportRow], headers: list[str],
                extra_keys: list[str]) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("customers")

    def cell(value: str) -> Any:
        text = ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
        made = WriteOnlyCell(sheet, value=text)
        if text.startswith("="):
            made.data_type = "s"  # text, never a formula
        return made

    sheet.append([cell(h) for h in headers])
    for row in rows:
        sheet.append([cell(value) for value in _cells(row, extra_keys)])
    workbook.save(path)
