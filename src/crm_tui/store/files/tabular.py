"""Reading customer tables as real tools write them: CSV in any common encoding, and XLSX.

CSV: the encoding is found from the bytes (a BOM first; then strict UTF-8; then chardet's guess,
GBK/GB2312 read as its superset GB18030, the way Excel saves CSV on a Chinese Windows); the
delimiter from the header line (comma, tab as in Excel's "Unicode text", or semicolon); cells are
read in Excel's dialect (quoted commas, doubled quotes, newlines inside cells). XLSX: the first
worksheet with data, read with openpyxl in read-only mode, imported only here.

Rows come out as lists of strings with their spreadsheet row number (the header is row 1 when
it is the first line), blank lines included as empty lists, so every line can be accounted for.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from crm_tui.store.errors import NotFound, UsageError

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
_SAMPLE = 1 << 16
_CHUNK = 1 << 20

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class FileProblem(UsageError):
    """The file cannot be read as a customer table (exit 2)."""


@dataclass
class Table:
    """An open table: its header-less row stream plus what was found out about the file."""

    path: Path
    format: str
    rows: Iterator[tuple[int, list[str]]]
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    estimated_rows: int | None = None
    _closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for closer in self._closers:
            with contextlib.suppress(Exception):  # closing must not hide the real outcome
                closer()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def file_format(path: Path, fmt: str | None = None) -> str:
    """``csv`` or ``xlsx`` from ``fmt`` or the file's suffix (or its first bytes)."""
    if fmt:
        lowered = fmt.lower()
        if lowered not in ("csv", "xlsx"):
            raise FileProblem(f"Unknown import format {fmt!r}: use csv or xlsx.")
        return lowered
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return "xlsx"
    if suffix == ".xls":
        raise FileProblem(
            f"{path.name} is an old Excel 97-2003 workbook: save it as .xlsx or .csv and import that."
        )
    if suffix in CSV_SUFFIXES:
        return "csv"
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    return "csv"


def open_table(path: str | Path, *, fmt: str | None = None, encoding: str | None = None) -> Table:
    """Open ``path`` for reading rows; a missing file is NotFound, an unreadable one FileProblem."""
    source = Path(path).expanduser()
    if not source.exists():
        raise NotFound(f"There is no file {str(source)!r}.")
    if source.is_dir():
        raise FileProblem(f"{str(source)!r} is a folder, not a file.")
    try:
        kind = file_format(source, fmt)
        if kind == "xlsx":
            return _open_xlsx(source)
        return _open_csv(source, encoding)
    except PermissionError:
        raise FileProblem(f"The file {str(source)!r} cannot be read (permission denied).") from None
    except OSError as exc:
        raise FileProblem(f"The file {str(source)!r} cannot be read: {exc.strerror or exc}.") from None


# --- CSV -------------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CHINESE = {"gb2312", "gbk", "gb18030"}


def _decodes(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes strictly as ``encoding`` (read in chunks)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _first_non_ascii_sample(path: Path) -> bytes:
    """A sample of the file around its first non-ASCII byte (chardet needs the interesting part)."""
    with path.open("rb") as handle:
        offset = 0
        while chunk := handle.read(_CHUNK):
            for index, byte in enumerate(chunk):
                if byte >= 0x80:
                    handle.seek(max(0, offset + index - 256))
                    return handle.read(_SAMPLE)
            offset += len(chunk)
    return b""


def detect_encoding(path: Path) -> str:
    """The text encoding of a CSV file; FileProblem when none fits."""
    with path.open("rb") as handle:
        head = handle.read(_SAMPLE)
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if head and b"\x00" in head[:4096]:
        # UTF-16 without a BOM: ASCII text has a zero byte beside every character.
        even = head[0:4096:2].count(0)
        odd = head[1:4096:2].count(0)
        guess = "utf-16-be" if even > odd else "utf-16-le"
        if max(even, odd) > len(head[:4096]) // 4 and _decodes(path, guess):
            return guess
    if _decodes(path, "utf-8"):
        return "utf-8"
    sample = _first_non_ascii_sample(path)
    tried = ["GB18030"]
    if _looks_gb(sample) and _decodes(path, "gb18030"):
        return "gb18030"
    import chardet

    detected = chardet.detect(sample)
    guessed = (detected.get("encoding") or "").lower()
    if guessed in _CHINESE:
        guessed = "gb18030"
    candidates = [guessed] if guessed and (detected.get("confidence") or 0) >= 0.5 else []
    candidates += ["big5", "cp1252"]
    for name in candidates:
        if name.upper() in tried:
            continue
        tried.append(name.upper())
        try:
            codecs.lookup(name)
        except LookupError:
            continue
        if (name == "big5" and not _looks_big5(sample)) or not _decodes(path, name):
            continue
        return name
    raise FileProblem(
        f"The encoding of {path.name} is not one crm recognises (tried UTF-8, UTF-16, "
        f"{', '.join(tried)}): save it as CSV UTF-8 and import that, or name it with --encoding."
    )


def _pairs(sample: bytes) -> list[tuple[int, int]]:
    pairs, index = [], 0
    while index < len(sample) - 1:
        if sample[index] >= 0x81:
            pairs.append((sample[index], sample[index + 1]))
            index += 2
        else:
            index += 1
    return pairs


def _looks_gb(sample: bytes) -> bool:
    """Most double-byte pairs in the common GB2312 zone: Chinese text saved as GBK/GB18030.

    Western text in Windows-1252 decodes as GB18030 too, but its pairs (an accented letter and
    the ASCII letter after it) fall in GBK's rare-character extension instead.
    """
    pairs = _pairs(sample)
    if not pairs:
        return False
    common = sum(1 for lead, trail in pairs if 0xA1 <= lead <= 0xF7 and 0xA1 <= trail <= 0xFE)
    return common / len(pairs) >= 0.7


def _looks_big5(sample: bytes) -> bool:
    pairs = _pairs(sample)
    if not pairs:
        return False
    common = sum(1 for lead, trail in pairs if 0xA4 <= lead <= 0xF9
                 and (0x40 <= trail <= 0x7E or 0xA1 <= trail <= 0xFE))
    return common / len(pairs) >= 0.9


def _sniff_delimiter(first_line: str) -> str:
    counts = {delimiter: 0 for delimiter in (",", "\t", ";")}
    quoted = False
    for char in first_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _estimate_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            count += chunk.count(b"\n")
    return count + 1


def _open_csv(path: Path, encoding: str | None) -> Table:
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise FileProblem(f"Unknown encoding {encoding!r}.") from None
        if not _decodes(path, encoding):
            raise FileProblem(f"{path.name} is not valid {encoding} text.")
        chosen = encoding
    else:
        chosen = detect_encoding(path)
    handle = path.open("r", encoding=chosen, newline="")
    first_line = handle.readline()
    handle.seek(0)
    delimiter = _sniff_delimiter(first_line)
    reader = csv.reader(handle, dialect="excel", delimiter=delimiter)

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 0
        try:
            for cells in reader:
                number += 1
                yield number, cells
        except csv.Error as exc:
            raise FileProblem(f"{path.name} is not valid CSV after row {number}: {exc}.") from None

    return Table(path, "csv", rows(), encoding=chosen, delimiter=delimiter,
                 estimated_rows=_estimate_lines(path), _closers=[handle.close])


# --- XLSX ------------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a user sees (13800138000 stays digits, dates ISO)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _open_xlsx(path: Path) -> Table:
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise FileProblem(f"{path.name} is not a readable XLSX workbook ({exc}).") from None
    sheet = None
    for candidate in workbook.worksheets:
        if getattr(candidate, "max_row", None) and (candidate.max_row or 0) >= 1:
            sheet = candidate
            break
    if sheet is None:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
    if sheet is None:
        workbook.close()
        raise FileProblem(f"{path.name} has no worksheet.")
    estimated = sheet.max_row if isinstance(sheet.max_row, int) else None
    # Some writers record a wrong sheet size; without it read-only mode reads every stored row.
    if hasattr(sheet, "reset_dimensions"):
        sheet.reset_dimensions()

    def rows() -> Iterator[tuple[int, list[str]]]:
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [cell_text(v) for v in values]
            while cells and cells[-1] == "":
                cells.pop()
            yield number, cells

    return Table(path, "xlsx", rows(), sheet=sheet.title, estimated_rows=estimated,
                 _closers=[workbook.close])
