"""Reading customer tables as real tools write them: CSV in any common encoding, and XLSX.

CSV: the encoding is found from the bytes (a BOM first; then strict UTF-8; then chardet's guess,
GBK/GB2312 read as its superset GB18030, the way Excel saves CSV on a Chinese Windows); the
delimiter from the header line (comma, tab as in Excel's "Unicode text", or semicolon); cells are
read in Excel's dialect (quoted commas, doubled quotes, newlines inside cells). A file whose lines
are in different encodings (a UTF-8 line among GBK or Latin-1 ones) is refused before anything is
read, naming a line of each; bytes that are not valid in the encoding used reach the importer as
lone surrogates, and validation rejects their rows with the reason. XLSX: the first worksheet
holding data (or ``--sheet NAME``), read with openpyxl in read-only mode, imported only here,
within bounds on its unpacked size, its shared-strings table, its rows, columns and cells.

The file is opened once: a pipe, a device or a socket is refused (their bytes could be read only
once, and ``/dev/zero`` never ends), and every later pass reads that same open file.

Rows come out as lists of strings with their spreadsheet row number (the header is row 1 when
it is the first line), blank lines included as empty lists, so every line can be accounted for.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import errno
import io
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from crm_tui.store.errors import NotFound, UsageError

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
_SAMPLE = 1 << 16
_CHUNK = 1 << 20

XLSX_MAX_UNPACKED = 1 << 30
"""Most bytes an XLSX may unpack to, all its parts together (a 1 MB file can hold 300 MB)."""
XLSX_MAX_SHARED_STRINGS = 128 << 20
"""Most bytes of its shared-strings part, which openpyxl reads into memory whole."""
XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_COLUMNS = 16_384
"""Excel's own limits: a row or column number beyond them is not a spreadsheet's."""
XLSX_MAX_CELLS = 50_000_000
"""Most cells read from one sheet."""

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


def file_format(path: Path, fmt: str | None = None, handle: IO[bytes] | None = None) -> str:
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
    if handle is None:
        with path.open("rb") as own:
            head = own.read(4)
    else:
        handle.seek(0)
        head = handle.read(4)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    return "csv"


def open_table(path: str | Path, *, fmt: str | None = None, encoding: str | None = None,
               sheet: str | None = None) -> Table:
    """Open ``path`` for reading rows; a missing file is NotFound, an unreadable one, a pipe or
    a device FileProblem. ``sheet`` names the XLSX worksheet (else the first holding data)."""
    source = Path(path).expanduser()
    handle = _open_regular(source)
    try:
        kind = file_format(source, fmt, handle)
        if kind == "xlsx":
            return _open_xlsx(source, handle, sheet)
        if sheet is not None:
            raise FileProblem(f"{source.name} is a CSV file: it has no sheets to choose from.")
        return _open_csv(source, handle, encoding)
    except BaseException as exc:
        handle.close()
        if isinstance(exc, OSError):
            raise FileProblem(f"The file {str(source)!r} cannot be read: "
                              f"{exc.strerror or exc}.") from None
        raise


def _open_regular(source: Path) -> IO[bytes]:
    """``source`` opened once for reading, if it is a regular file.

    Opened without blocking (a FIFO with no writer would wait forever) and checked on the open
    file itself, so what is checked is what is read.
    """
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        raise NotFound(f"There is no file {str(source)!r}.") from None
    except PermissionError:
        raise FileProblem(f"The file {str(source)!r} cannot be read (permission denied).") from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise FileProblem(f"The file name {str(source)[:80]!r}... is too long.") from None
        raise FileProblem(f"The file {str(source)!r} cannot be read: {exc.strerror or exc}.") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise FileProblem(f"{str(source)!r} is a folder, not a file.")
        if not stat.S_ISREG(mode):
            raise FileProblem(
                f"{str(source)!r} is not a regular file (a pipe, device or socket): crm reads an "
                "import file more than once, so save it to a file first and import that."
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# --- CSV -------------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CHINESE = {"gb2312", "gbk", "gb18030"}


def _decodes(handle: IO[bytes], encoding: str) -> bool:
    """Whether the whole file decodes strictly as ``encoding`` (read in chunks)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    handle.seek(0)
    try:
        while chunk := handle.read(_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _first_non_ascii_sample(handle: IO[bytes]) -> bytes:
    """A sample of the file around its first non-ASCII byte (chardet needs the interesting part)."""
    handle.seek(0)
    offset = 0
    while chunk := handle.read(_CHUNK):
        for index, byte in enumerate(chunk):
            if byte >= 0x80:
                handle.seek(max(0, offset + index - 256))
                return handle.read(_SAMPLE)
        offset += len(chunk)
    return b""


_CJK = range(0x4E00, 0xA000)


def _mixed_lines(handle: IO[bytes]) -> tuple[int, int] | None:
    """In a file that is not UTF-8 as a whole: the numbers of a line that is plainly UTF-8 and
    of one that is not, or None when no line is plainly UTF-8.

    "Plainly" is three CJK ideographs or more, decoded strictly: text in GBK or Big5 is valid
    UTF-8 by chance only in short runs, and never as ideographs three times over.
    """
    handle.seek(0)
    utf8_line = other_line = None
    for number, line in enumerate(handle, start=1):
        if line.isascii():
            continue
        try:
            decoded = line.decode("utf-8")
        except UnicodeDecodeError:
            other_line = other_line or number
        else:
            if utf8_line is None and sum(1 for char in decoded if ord(char) in _CJK) >= 3:
                utf8_line = number
        if utf8_line and other_line:
            return utf8_line, other_line
    return None


def detect_encoding(source: Path | IO[bytes], name: str | None = None) -> str:
    """The text encoding of a CSV file (a path, or the open file); FileProblem when none fits.

    ``surrogateescape`` decoding after this choice lets the rows with bytes the encoding does
    not accept be rejected one by one (a GBK file with one Latin-1 row, say).
    """
    if isinstance(source, Path):
        with source.open("rb") as opened:
            return detect_encoding(opened, source.name)
    handle = source
    name = name or "the file"
    handle.seek(0)
    head = handle.read(_SAMPLE)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    if head and b"\x00" in head[:4096]:
        # UTF-16 without a BOM: ASCII text has a zero byte beside every character.
        even = head[0:4096:2].count(0)
        odd = head[1:4096:2].count(0)
        guess = "utf-16-be" if even > odd else "utf-16-le"
        if max(even, odd) > len(head[:4096]) // 4 and _decodes(handle, guess):
            return guess
    if _decodes(handle, "utf-8"):
        return "utf-8"
    mixed = _mixed_lines(handle)
    if mixed is not None:
        raise FileProblem(
            f"{name} mixes text encodings (line {mixed[0]} is UTF-8, line {mixed[1]} is not), so "
            "some rows would be stored garbled: save the whole file in one encoding (CSV UTF-8) "
            "and import it again, or name one with --encoding (rows not valid in it are rejected)."
        )
    sample = _first_non_ascii_sample(handle)
    tried = ["GB18030"]
    if _looks_gb(sample):
        # Chinese text: GB18030 even when some rows are not valid in it; those rows are
        # rejected rather than the whole file read as Windows-1252 (mojibake).
        return "gb18030"
    import chardet

    detected = chardet.detect(sample)
    guessed = (detected.get("encoding") or "").lower()
    if guessed in _CHINESE:
        guessed = "gb18030"
    candidates = [guessed] if guessed and (detected.get("confidence") or 0) >= 0.5 else []
    candidates += ["big5", "cp1252"]
    for candidate in candidates:
        if candidate.upper() in tried:
            continue
        tried.append(candidate.upper())
        try:
            codecs.lookup(candidate)
        except LookupError:
            continue
        if (candidate == "big5" and not _looks_big5(sample)) or not _decodes(handle, candidate):
            continue
        return candidate
    raise FileProblem(
        f"The encoding of {name} is not one crm recognises (tried UTF-8, UTF-16, "
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


def _estimate_lines(handle: IO[bytes]) -> int:
    handle.seek(0)
    count = 0
    while chunk := handle.read(_CHUNK):
        count += chunk.count(b"\n")
    return count + 1


def _open_csv(path: Path, raw: IO[bytes], encoding: str | None) -> Table:
    if encoding:
        try:
            known = getattr(codecs.lookup(encoding), "_is_text_encoding", True)
        except LookupError:
            known = False
        if not known:  # rot13 and base64 are codecs, but not of text in bytes
            raise FileProblem(f"Unknown encoding {encoding!r}: name one such as utf-8, gb18030, "
                              "big5 or cp1252.")
        chosen = encoding
    else:
        chosen = detect_encoding(raw, path.name)
    estimated = _estimate_lines(raw)
    raw.seek(0)
    # Bytes the encoding does not accept arrive as lone surrogates: validation rejects their
    # rows ("not valid text"), and the rejected file gives the bytes back as they were.
    handle = io.TextIOWrapper(raw, encoding=chosen, errors="surrogateescape", newline="")
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
                 estimated_rows=estimated, _closers=[handle.close])


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


def _check_xlsx_size(path: Path, handle: IO[bytes]) -> None:
    """Refuse a workbook that unpacks beyond ``XLSX_MAX_UNPACKED`` or whose shared strings
    exceed ``XLSX_MAX_SHARED_STRINGS``, before openpyxl unpacks anything.

    The sizes are those the archive declares: ``zipfile`` never unpacks more than an entry
    declares (it stops there, and the checksum then fails).
    """
    import zipfile

    handle.seek(0)
    try:
        with zipfile.ZipFile(handle) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileProblem(f"{path.name} is not a readable XLSX workbook ({exc}).") from None
    unpacked = sum(entry.file_size for entry in entries)
    advice = "save it as CSV (CSV UTF-8) and import that"
    if unpacked > XLSX_MAX_UNPACKED:
        raise FileProblem(f"{path.name} unpacks to {unpacked >> 20:,} MB, more than the "
                          f"{XLSX_MAX_UNPACKED >> 20:,} MB crm reads from a workbook: {advice}.")
    for entry in entries:
        if entry.filename.lower().endswith("sharedstrings.xml") and (
            entry.file_size > XLSX_MAX_SHARED_STRINGS
        ):
            raise FileProblem(
                f"{path.name} holds {entry.file_size >> 20:,} MB of shared text, more than the "
                f"{XLSX_MAX_SHARED_STRINGS >> 20:,} MB crm reads from a workbook: {advice}."
            )


def _sheet_rows(path: Path, sheet: Any) -> Iterator[tuple[int, list[str]]]:
    """A worksheet's rows as text cells, within Excel's row and column limits and
    ``XLSX_MAX_CELLS``; a failure to read (broken XML half-way) is a ``FileProblem`` naming
    the last row read."""
    number = 0
    cells_read = 0
    rows = sheet.iter_rows(values_only=True)
    while True:
        try:
            values = next(rows, None)
        except Exception as exc:  # noqa: BLE001 - openpyxl and the XML parser raise many kinds
            raise FileProblem(f"{path.name} cannot be read after row {number} of sheet "
                              f"{sheet.title!r} ({type(exc).__name__}: {exc}).") from None
        if values is None:
            return
        number += 1
        if number > XLSX_MAX_ROWS or len(values) > XLSX_MAX_COLUMNS:
            raise FileProblem(f"Sheet {sheet.title!r} of {path.name} goes beyond Excel's "
                              f"{XLSX_MAX_ROWS:,} rows or {XLSX_MAX_COLUMNS:,} columns.")
        cells_read += len(values)
        if cells_read > XLSX_MAX_CELLS:
            raise FileProblem(f"Sheet {sheet.title!r} of {path.name} has more than "
                              f"{XLSX_MAX_CELLS:,} cells: save it as CSV (CSV UTF-8) and "
                              "import that.")
        cells = [cell_text(v) for v in values]
        while cells and cells[-1] == "":
            cells.pop()
        yield number, cells


def _has_data(path: Path, sheet: Any) -> bool:
    """Whether a worksheet holds any non-empty cell (read until the first one)."""
    return any(cells for _, cells in _sheet_rows(path, sheet))


def _open_xlsx(path: Path, handle: IO[bytes], sheet_name: str | None = None) -> Table:
    import zipfile

    from openpyxl import load_workbook

    _check_xlsx_size(path, handle)
    handle.seek(0)
    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise FileProblem(f"{path.name} is not a readable XLSX workbook ({exc}).") from None
    except Exception as exc:  # noqa: BLE001 - broken XML inside the archive, among others
        raise FileProblem(f"{path.name} is not a readable XLSX workbook "
                          f"({type(exc).__name__}: {exc}).") from None
    try:
        sheets = list(workbook.worksheets)
        declared = {candidate.title: getattr(candidate, "max_row", None) for candidate in sheets}
        for candidate in sheets:
            # Some writers record a wrong sheet size; without it read-only mode reads every
            # stored row (and is not misled by a sheet that claims rows it does not hold).
            if hasattr(candidate, "reset_dimensions"):
                candidate.reset_dimensions()
        names = ", ".join(repr(candidate.title) for candidate in sheets)
        if not sheets:
            raise FileProblem(f"{path.name} has no worksheet.")
        if sheet_name is not None:
            chosen = next((c for c in sheets if c.title == sheet_name), None) or next(
                (c for c in sheets if c.title.casefold() == sheet_name.casefold()), None)
            if chosen is None:
                raise FileProblem(f"{path.name} has no sheet {sheet_name!r}; its sheets are "
                                  f"{names}.")
        else:
            # The first sheet holding data: an empty cover sheet before the data is common.
            chosen = next((c for c in sheets if _has_data(path, c)), sheets[0])
    except BaseException:
        workbook.close()
        raise
    estimated = declared.get(chosen.title)
    return Table(path, "xlsx", _sheet_rows(path, chosen), sheet=chosen.title,
                 estimated_rows=estimated if isinstance(estimated, int) else None,
                 _closers=[workbook.close, handle.close])
