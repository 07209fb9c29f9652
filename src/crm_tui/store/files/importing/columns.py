"""Where each column of an imported file goes: the header row found, each header mapped to a field.

Columns map to fields by common English and Chinese header names (``HEADER_SYNONYMS``);
``--map COLUMN=FIELD`` overrides (FIELD may also be ``extra``, ``extra.KEY`` or ``ignore``). A
column that maps to nothing, or to a field an earlier column already took, is kept in the
customer's ``extra`` under its header, so nothing is dropped. A header ``extra.KEY`` always goes to
``extra[KEY]``. When there is no name column but a company column, the company is the name. A file
``crm export`` wrote is recognised by its columns, and the columns the store manages itself
(``EXPORT_MANAGED``) are ignored, so an export imports back as the same customers.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crm_tui.store.errors import UsageError
from crm_tui.store.files.tabular import FileProblem, Table

if TYPE_CHECKING:
    from crm_tui.store.files.importing.report import ImportReport

EXTRA_KEY_LIMIT = 100
HEADER_LOOKAHEAD = 10

REJECTED_ROW, REJECTED_REASON = "rejected_row", "rejected_reason"

# Customer fields a column can fill (besides extra), each with the header names it answers to.
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": ("name", "customer", "customer name", "client", "client name", "full name",
             "account name", "客户", "客户名称", "客户名", "客户姓名", "名称", "姓名", "名字"),
    "company": ("company", "company name", "organization", "organisation", "org", "employer",
                "公司", "公司名称", "单位", "单位名称", "企业", "企业名称", "工作单位"),
    "phone": ("phone", "telephone", "tel", "mobile", "mobile phone", "cell", "cell phone",
              "phone number", "手机", "手机号", "手机号码", "电话", "联系电话", "电话号码",
              "移动电话", "座机", "联系方式"),
    "email": ("email", "e-mail", "mail", "email address", "邮箱", "电子邮箱", "电子邮件",
              "邮件", "邮箱地址"),
    "industry": ("industry", "sector", "vertical", "行业", "所属行业", "行业类别"),
    "region": ("region", "city", "province", "area", "location", "state", "城市", "地区",
               "区域", "省份", "省市", "所在地", "所在地区", "地域", "所在城市"),
    "address": ("address", "street", "street address", "地址", "详细地址", "联系地址",
                "公司地址", "通讯地址"),
    "source": ("source", "lead source", "channel", "origin", "来源", "客户来源", "渠道",
               "来源渠道", "获客渠道"),
    "notes": ("notes", "note", "remark", "remarks", "comment", "comments", "description",
              "memo", "备注", "说明", "描述", "备注信息"),
    "kind": ("kind", "type", "customer type", "类型", "客户类型"),
    "status": ("status", "customer status", "状态", "客户状态"),
    "tier": ("tier", "level", "grade", "customer level", "等级", "客户等级", "级别", "客户级别"),
    "tags": ("tags", "tag", "labels", "label", "标签", "客户标签"),
    "contacts": ("contacts", "contact", "contact person", "contact name", "联系人",
                 "联系人姓名", "联系人员"),
}
FIELDS = tuple(HEADER_SYNONYMS)
CUSTOMER_FIELDS = ("name", "kind", "company", "industry", "region", "address", "phone", "email",
                   "source", "status", "tier", "notes")

# Columns ``crm export`` writes that the store manages itself: dropped (and reported) when a
# file is recognised as a crm export, so an export imports back as the same customers.
EXPORT_COLUMNS = ("id", "name", "kind", "company", "industry", "region", "address", "phone",
                  "email", "source", "status", "tier", "tags", "notes", "contacts", "owner",
                  "locked", "last_follow_up_at", "next_follow_up_at", "created_at", "updated_at")
EXPORT_MANAGED = ("id", "owner", "locked", "last_follow_up_at", "next_follow_up_at",
                  "created_at", "updated_at")

_HEADER_STRIP = re.compile(r"[\s_\-:：*（）()]+")


def header_key(header: str) -> str:
    """A header as compared with the synonyms: NFKC, case-folded, without spaces and marks."""
    return _HEADER_STRIP.sub("", unicodedata.normalize("NFKC", header).casefold())


_SYNONYM_INDEX = {header_key(s): f for f, names in HEADER_SYNONYMS.items() for s in names}


def field_for_header(header: str) -> str | None:
    """The field a header names by convention, or None."""
    return _SYNONYM_INDEX.get(header_key(header))


@dataclass
class Column:
    """One column of the file and where its cells go."""

    index: int
    header: str
    target: str  # a field of FIELDS, "extra" or "ignore"
    key: str | None = None  # the extra key
    how: str = "auto"  # auto, map (from --map), fallback, export (crm export bookkeeping)

    def describe(self) -> str:
        """Where the column goes, as the report shows it: a field, ``extra.KEY`` or ``ignore``."""
        if self.target == "extra":
            return f"extra.{self.key}"
        return self.target


def parse_map_options(options: Iterable[str]) -> list[tuple[str, str]]:
    """``COLUMN=FIELD`` pairs; a malformed one is a UsageError (exit 2)."""
    pairs = []
    for option in options:
        column, sep, target = option.rpartition("=")
        if not sep or not column.strip() or not target.strip():
            raise UsageError(f"--map {option!r} is not COLUMN=FIELD.")
        pairs.append((column.strip(), target.strip()))
    return pairs


def _map_target(target: str) -> tuple[str, str | None]:
    lowered = target.strip()
    folded = lowered.casefold()
    if folded in ("ignore", "skip", "-", "none"):
        return "ignore", None
    if folded == "extra":
        return "extra", None
    if folded.startswith(("extra.", "extra:")):
        key = lowered[6:].strip()
        if not key:
            raise UsageError(f"--map target {target!r} names no extra key.")
        return "extra", key
    if folded in FIELDS:
        return folded, None
    by_synonym = field_for_header(lowered)
    if by_synonym:
        return by_synonym, None
    raise UsageError(
        f"--map target {target!r} is not a field; use one of {', '.join(FIELDS)}, "
        "extra, extra.KEY or ignore."
    )


def plan_columns(headers: list[str], overrides: Iterable[tuple[str, str]] = ()) -> list[Column]:
    """Decide where every column goes (see the module docstring); UsageError without a name."""
    cleaned = [unicodedata.normalize("NFC", h or "").strip() for h in headers]
    columns = [Column(i, h, "extra") for i, h in enumerate(cleaned)]
    taken: set[str] = set()
    data_headers = [h for h in cleaned if h not in (REJECTED_ROW, REJECTED_REASON)]
    is_export = tuple(header_key(h) for h in data_headers[: len(EXPORT_COLUMNS)]) == tuple(
        header_key(h) for h in EXPORT_COLUMNS
    )
    for column_name, target in overrides:
        matches = [c for c in columns if c.header == column_name] or [
            c for c in columns if header_key(c.header) == header_key(column_name)
        ]
        if not matches:
            shown = ", ".join(repr(h) for h in cleaned if h) or "none"
            raise UsageError(f"--map names the column {column_name!r}, which the file does not have "
                             f"(its columns: {shown}).")
        chosen, key = _map_target(target)
        if chosen in FIELDS and chosen in taken:
            raise UsageError(f"--map gives the field {chosen!r} to two columns.")
        for column in matches[:1]:
            column.target, column.key, column.how = chosen, key, "map"
            if chosen in FIELDS:
                taken.add(chosen)
    for column in columns:
        if column.how == "map":
            continue
        lowered = column.header.casefold()
        if column.header in (REJECTED_ROW, REJECTED_REASON):
            column.target, column.how = "ignore", "rejected-file"
        elif is_export and lowered in EXPORT_MANAGED:
            column.target, column.how = "ignore", "export"
        elif lowered.startswith("extra.") and len(column.header) > 6:
            column.key = column.header[6:]
        else:
            found = field_for_header(column.header)
            if found and found not in taken:
                column.target = found
                taken.add(found)
    if "name" not in taken:
        company = next((c for c in columns if c.target == "company" and c.how == "auto"), None)
        if company is None:
            shown = ", ".join(repr(h) for h in cleaned if h) or "none"
            raise UsageError(
                f"No column holds the customer name (columns: {shown}): name one with "
                "--map COLUMN=name."
            )
        company.target, company.how = "name", "fallback"
    used_keys: set[str] = set()
    for column in columns:
        if column.target != "extra":
            continue
        key = (column.key or column.header or f"column {column.index + 1}")[:EXTRA_KEY_LIMIT]
        base, n = key, 2
        while key in used_keys:
            key = f"{base} ({n})"
            n += 1
        column.key = key
        used_keys.add(key)
    return columns



def read_header(table: Table, report: ImportReport,
                overrides: list[tuple[str, str]]) -> tuple[list[str], list[Column]]:
    """Find the header row and map its columns, noting both in ``report``.

    The header is the first of the first ``HEADER_LOOKAHEAD`` non-blank rows that names a
    customer field (or a column ``--map`` names); rows above it are a title and counted as
    ``preamble``. Rows looked at beyond the header are put back in front of ``table.rows``.
    """
    report.format, report.encoding = table.format, table.encoding
    report.delimiter, report.sheet = table.delimiter, table.sheet

    def names_field(cells: list[str]) -> bool:
        return any(field_for_header(c) in ("name", "company") for c in cells) or any(
            c.strip() == column for c in cells for column, _ in overrides
        )

    looked: list[tuple[int, list[str]]] = []
    for number, cells in table.rows:
        if not any(c.strip() for c in cells):
            report.blank += 1
            continue
        looked.append((number, cells))
        if names_field(cells) or len(looked) >= HEADER_LOOKAHEAD:
            break
    if not looked:
        raise FileProblem(f"{table.path.name} holds no rows at all.")
    chosen = next((i for i, (_, cells) in enumerate(looked) if names_field(cells)), 0)
    number, headers = looked[chosen]
    report.header_row = number
    report.preamble = chosen
    rest = looked[chosen + 1:]
    if rest:
        table.rows = itertools.chain(rest, table.rows)
    columns = plan_columns(headers, overrides)
    report.columns = {(c.header or f"column {c.index + 1}"): c.describe()
                      for c in columns if c.target != "ignore"}
    report.ignored_columns = [c.header for c in columns if c.target == "ignore"]
    return headers, columns
