"""``crm import``: customers from CSV and XLSX, validated, de-duplicated, nothing lost.

The rules, so a user can predict the outcome:

- **Columns** map to fields by common English and Chinese header names (``HEADER_SYNONYMS``);
  ``--map COLUMN=FIELD`` overrides (FIELD may also be ``extra``, ``extra.KEY`` or ``ignore``).
  A column that maps to nothing, or to a field an earlier column already took, is kept in the
  customer's ``extra`` under its header, so nothing is dropped. A header ``extra.KEY`` always goes
  to ``extra[KEY]``. When there is no name column but a company column, the company is the name.
- **Rows**: a blank line is not a row (it is counted as ``blank``); a row with fewer cells than the
  header has its missing cells empty; a row with more non-empty cells than the header is rejected
  (its columns have shifted, so its values cannot be trusted). Every other row is *read* and ends
  as exactly one of **added**, **merged**, **skipped** (a duplicate) or **rejected** (invalid, or
  beyond the private cap): ``read == added + merged + skipped + rejected``.
- **Validation** is the store's own (``validate_customer`` and ``validate``), plus tags, contacts
  and ``extra`` values (no control characters, bounded lengths). Chinese values of status, kind
  and tier (意向, 个人, A类) are understood.
- **Duplicates** are looked for in the database and earlier in the same file, by E.164 phone,
  case-folded email, the store's ``name_key``, the name without its legal form (华为技术有限公司 and
  华为技术公司; Acme Ltd and Acme Inc) and, among customers of the same company, a rapidfuzz
  similarity of at least ``FUZZY_CUTOFF`` (candidates are narrowed by index look-ups per batch
  first, never scored against the whole table: DESIGN §11). DESIGN §5 holds: a match owned by
  another rep is never merged into nor duplicated by a non-admin; the row is skipped as "already
  exists, owned by X". Otherwise ``--on-duplicate`` decides: ``skip`` (default), ``merge`` (fill
  empty fields, add missing tags, contacts and extra keys; a differing non-empty value is kept
  and reported as a conflict, never overwritten), or ``create`` (add a look-alike).
- **Ownership**: new customers go to the importer's private sea, or the open sea with ``pool``.
  The private cap holds: rows beyond it are rejected with reason ``private_cap`` (re-import the
  rejected file with ``--pool``, or after the cap is raised).
- **Writing**: one transaction per batch of ``BATCH_SIZE`` rows (look-up, decisions and writes in
  it), so a batch is written whole or not at all; re-running a file finds the first run's
  customers and skips or merges them. ``dry_run`` decides everything the same way in read-only
  transactions and writes nothing (no rejected file either).
- **Rejected and skipped rows** are written beside the input as ``NAME.rejected.csv`` (UTF-8 with
  BOM, Excel dialect) with their original cells plus ``rejected_row`` and ``rejected_reason``; the
  importer ignores those two columns, so the file can be fixed and imported again.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    Integer,
    String,
    any_,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    update,
)

from crm_tui.store import validate
from crm_tui.store.db.base import (
    StoreBase,
    audit_t,
    customer_t,
    customer_tag_t,
    ownership_t,
    rep_t,
    tag_t,
)
from crm_tui.store.errors import CrmError, UsageError, ValidationError
from crm_tui.store.files.tabular import FileProblem, Table, open_table
from crm_tui.store.records import Actor
from crm_tui.store.schema.tables import contact as contact_t
from crm_tui.store.search import index_ddl as search_sql
from crm_tui.store.search.tokens import customer_tokens

BATCH_SIZE = 2000
_FTS_INSERT_TRIGGER = "customer_fts_ai"
FUZZY_CUTOFF = 90
FUZZY_BLOCK_LIMIT = 500
PROBLEM_LIMIT = 1000
EXTRA_VALUE_LIMIT = 2000
EXTRA_KEY_LIMIT = 100
ON_DUPLICATE = ("skip", "merge", "create")

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

STATUS_WORDS = {"线索": "lead", "潜在": "lead", "潜在客户": "lead", "新客户": "lead",
                "意向": "intent", "有意向": "intent", "意向客户": "intent", "成交": "deal",
                "已成交": "deal", "成交客户": "deal", "签约": "deal", "已签约": "deal",
                "流失": "lost", "已流失": "lost", "无效": "lost"}
KIND_WORDS = {"公司": "company", "企业": "company", "单位": "company", "机构": "company",
              "business": "company", "organization": "company", "organisation": "company",
              "个人": "person", "individual": "person", "personal": "person"}

_HEADER_STRIP = re.compile(r"[\s_\-:：*（）()]+")
_TAG_SPLIT = re.compile(r"[,;，；、|\n]+")
_CONTACT_SPLIT = re.compile(r"[;；\n]+")
_PHONEISH = re.compile(r"^[\d\s+\-().]{5,}$")
_WORD = re.compile(r"\w+", re.UNICODE)
_LEGAL_WORDS = ("co", "company", "ltd", "limited", "inc", "incorporated", "corp", "corporation",
                "llc", "plc", "gmbh", "ag", "sa", "pte", "pty", "llp", "group")
_LEGAL_CJK = ("股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "集团", "公司")
_NEUTRALISED = ("'=", "'+", "'-", "'@", "'\t", "'\r")


def header_key(header: str) -> str:
    """A header as compared with the synonyms: NFKC, case-folded, without spaces and marks."""
    return _HEADER_STRIP.sub("", unicodedata.normalize("NFKC", header).casefold())


_SYNONYM_INDEX = {header_key(s): f for f, names in HEADER_SYNONYMS.items() for s in names}


def field_for_header(header: str) -> str | None:
    """The field a header names by convention, or None."""
    return _SYNONYM_INDEX.get(header_key(header))


def core_key(name: str) -> str:
    """A name without its legal form (Ltd, Inc, 有限公司, ...): the key for look-alikes."""
    normal = unicodedata.normalize("NFKC", name).casefold()
    words = _WORD.findall(normal)
    while len(words) > 1 and words[-1] in _LEGAL_WORDS:
        words.pop()
    joined = "".join(words).replace("_", "")
    changed = True
    while changed:
        changed = False
        for suffix in _LEGAL_CJK:
            if joined.endswith(suffix) and len(joined) > len(suffix) + 1:
                joined = joined[: -len(suffix)]
                changed = True
    return joined[:200]


def core_variants(core: str) -> list[str]:
    """name_key values that share ``core``: the core itself and it with each legal form."""
    if not core:
        return []
    if re.search(r"[\u3400-\u9fff]", core):
        return [core] + [core + suffix for suffix in _LEGAL_CJK]
    forms = ("ltd", "limited", "inc", "corp", "corporation", "llc", "plc", "gmbh", "coltd",
             "companylimited", "co", "company", "group")
    return [core] + [core + form for form in forms]


# --- mapping ---------------------------------------------------------------------------------


@dataclass
class Column:
    """One column of the file and where its cells go."""

    index: int
    header: str
    target: str  # a field of FIELDS, "extra" or "ignore"
    key: str | None = None  # the extra key
    how: str = "auto"  # auto, map (from --map), fallback, export (crm export bookkeeping)

    def describe(self) -> str:
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


# --- values ----------------------------------------------------------------------------------


def unneutralise(value: str) -> str:
    """Undo the ``'`` a spreadsheet export puts before ``=``, ``+``, ``-``, ``@`` (formula guard)."""
    if value.startswith(_NEUTRALISED):
        return value[1:]
    return value


def split_tags(value: str) -> list[str]:
    text = value.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            loaded = json.loads(text)
        except ValueError:
            raise ValidationError("tags", "is not a valid JSON list") from None
        if not isinstance(loaded, list):
            raise ValidationError("tags", "must be a list")
        return [str(item) for item in loaded]
    return [part for part in (p.strip() for p in _TAG_SPLIT.split(text)) if part]


def split_contacts(value: str) -> list[dict[str, Any]]:
    """Contacts from a cell: the JSON list ``crm export`` writes, or ``name|phone|email; ...``."""
    text = value.strip()
    if not text:
        return []
    if text.startswith(("[", "{")):
        try:
            loaded = json.loads(text)
        except ValueError:
            raise ValidationError("contacts", "is not valid JSON") from None
        items = loaded if isinstance(loaded, list) else [loaded]
        contacts = []
        for item in items:
            if isinstance(item, str):
                contacts.append({"name": item})
            elif isinstance(item, dict):
                contacts.append({
                    "name": item.get("name"), "title": item.get("title"),
                    "phone": item.get("phone"), "email": item.get("email"),
                    "wechat": item.get("wechat"),
                    "is_primary": bool(item.get("is_primary", item.get("primary", False))),
                })
            else:
                raise ValidationError("contacts", "must be a list of contacts")
        return contacts
    contacts = []
    for entry in _CONTACT_SPLIT.split(text):
        parts = [p.strip() for p in entry.split("|")]
        if not any(parts):
            continue
        contact: dict[str, Any] = {"name": parts[0]}
        for part in parts[1:]:
            if not part:
                continue
            if "@" in part and "email" not in contact:
                contact["email"] = part
            elif _PHONEISH.match(part) and "phone" not in contact:
                contact["phone"] = part
            elif "title" not in contact:
                contact["title"] = part
            else:
                contact["wechat"] = part
        contacts.append(contact)
    return contacts


def _plain_choice(value: str, words: dict[str, str]) -> str:
    stripped = value.strip()
    return words.get(stripped, words.get(stripped.casefold(), stripped))


def _tier_value(value: str) -> str:
    stripped = value.strip()
    if len(stripped) == 2 and stripped[1] in "类级" and stripped[0].upper() in "ABC":
        return stripped[0]
    return stripped


# --- the report ------------------------------------------------------------------------------


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
    """A batch failed (the database went away, ...): earlier batches stay, this one is undone."""

    exit_code = 1

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class ImportPreview:
    """The first rows of a file and how its columns would be mapped (for the TUI screen)."""

    report: ImportReport
    headers: list[str]
    columns: list[Column]
    sample: list[list[str]]


# --- internal row state ----------------------------------------------------------------------


@dataclass
class _Row:
    number: int
    cells: list[str]
    data: Any  # CustomerInput
    provided: set[str]
    extra: dict[str, str]
    tags: list[str]
    contacts: list[dict[str, Any]]
    name_key: str
    core: str
    company_key: str | None
    search_text: str | None = None  # None once a merge changed the row


@dataclass
class _Target:
    """A customer a row may duplicate: one in the database, or one this import adds."""

    customer_id: int | None
    owner_id: int | None
    owner_login: str | None = None
    owner_name: str | None = None
    row: int | None = None  # the file row that added it
    values: dict[str, Any] | None = None  # current field values (for merging), when known
    version: int | None = None
    pending: _Row | None = None  # an added row of this batch, not yet written
    tags: set[str] | None = None  # its tags, loaded when first merged into
    contact_keys: set[tuple[str, str, str]] | None = None


@dataclass
class _Merge:
    target: _Target
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)


class _Index:
    """Targets by duplicate key: phone, email, name_key, core name, company (fuzzy block)."""

    def __init__(self) -> None:
        self.by_phone: dict[str, _Target] = {}
        self.by_email: dict[str, _Target] = {}
        self.by_name: dict[str, _Target] = {}
        self.by_core: dict[str, _Target] = {}
        self.by_company: dict[str, list[tuple[str, _Target]]] = {}

    def add(self, target: _Target, phone: str | None, email: str | None, name_key: str,
            core: str, company_key: str | None) -> None:
        if phone:
            self.by_phone.setdefault(phone, target)
        if email:
            self.by_email.setdefault(email, target)
        if name_key:
            self.by_name.setdefault(name_key, target)
        if core and len(core) >= 2:
            self.by_core.setdefault(core, target)
        if company_key and name_key:
            block = self.by_company.setdefault(company_key, [])
            if len(block) < FUZZY_BLOCK_LIMIT:
                block.append((name_key, target))

    def matches(self, row: _Row) -> list[tuple[_Target, str]]:
        found: list[tuple[_Target, str]] = []
        data = row.data
        if data.phone and data.phone in self.by_phone:
            found.append((self.by_phone[data.phone], "phone"))
        if data.email and data.email in self.by_email:
            found.append((self.by_email[data.email], "email"))
        if row.name_key in self.by_name:
            found.append((self.by_name[row.name_key], "name"))
        if row.core and row.core in self.by_core:
            found.append((self.by_core[row.core], "similar name"))
        if row.company_key and row.company_key in self.by_company:
            from rapidfuzz import fuzz, process

            block = self.by_company[row.company_key]
            best = process.extractOne(row.name_key, [key for key, _ in block], scorer=fuzz.ratio,
                                      score_cutoff=FUZZY_CUTOFF)
            if best is not None:
                found.append((block[best[2]][1], "similar name at the same company"))
        return found


def _company_key(company: str | None) -> str | None:
    if not company:
        return None
    key = validate.name_key(company)
    return key or None


# --- the import ------------------------------------------------------------------------------


class ImportOps(StoreBase):
    """Importing customer tables (mixed into ``Store``)."""

    def preview_import(self, path: str | Path, *, mapping: Iterable[str] = (),
                       encoding: str | None = None, rows: int = 10) -> ImportPreview:
        """Open ``path``, map its columns and return its first ``rows`` data rows; writes nothing."""
        report = ImportReport(file=str(path), format="")
        with open_table(path, encoding=encoding) as table:
            headers, columns = self._header(table, report, parse_map_options(mapping))
            sample = []
            for _, cells in table.rows:
                if not any(c.strip() for c in cells):
                    continue
                sample.append(cells)
                if len(sample) >= rows:
                    break
        return ImportPreview(report, headers, columns, sample)

    def _header(self, table: Table, report: ImportReport,
                overrides: list[tuple[str, str]]) -> tuple[list[str], list[Column]]:
        """Find the header row (the first of the first 10 non-blank rows that names a customer
        field; rows above it are a title and counted as ``preamble``) and map its columns."""
        report.format, report.encoding = table.format, table.encoding
        report.delimiter, report.sheet = table.delimiter, table.sheet
        looked: list[tuple[int, list[str]]] = []
        for number, cells in table.rows:
            if not any(c.strip() for c in cells):
                report.blank += 1
                continue
            looked.append((number, cells))
            names_field = any(field_for_header(c) in ("name", "company") for c in cells) or any(
                c.strip() == column for c in cells for column, _ in overrides
            )
            if names_field or len(looked) >= 10:
                break
        if not looked:
            raise FileProblem(f"{table.path.name} holds no rows at all.")
        chosen = next(
            (i for i, (_, cells) in enumerate(looked)
             if any(field_for_header(c) in ("name", "company") for c in cells)
             or any(c.strip() == column for c in cells for column, _ in overrides)),
            0,
        )
        number, headers = looked[chosen]
        report.header_row = number
        report.preamble = chosen
        # Rows looked at beyond the header are data: put them back in front of the stream.
        rest = looked[chosen + 1:]
        if rest:
            table.rows = itertools.chain(rest, table.rows)
        columns = plan_columns(headers, overrides)
        report.columns = {(c.header or f"column {c.index + 1}"): c.describe()
                          for c in columns if c.target != "ignore"}
        report.ignored_columns = [c.header for c in columns if c.target == "ignore"]
        return headers, columns

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
        progress: Callable[[int, int], None] | None = None,
        batch_size: int = BATCH_SIZE,
        parallel: bool | None = None,
    ) -> ImportReport:
        """Import the customers of a CSV or XLSX file; see the module docstring for the rules.

        ``parallel`` prepares (parses, validates, tokenises) the next batch in a worker process
        while this one looks up and writes the current one; by default for files of more than
        four batches on a machine with more than one CPU.
        """
        if on_duplicate not in ON_DUPLICATE:
            raise UsageError(f"--on-duplicate must be one of {', '.join(ON_DUPLICATE)}, "
                             f"not {on_duplicate!r}.")
        overrides = parse_map_options(mapping)
        source = Path(path).expanduser()
        report = ImportReport(file=str(source), format="", dry_run=dry_run, pool=pool,
                              on_duplicate=on_duplicate)
        with open_table(source, encoding=encoding) as table:
            headers, columns = self._header(table, report, overrides)
            state = _ImportState(self, actor, report, headers, columns, on_duplicate, pool,
                                 dry_run, source)
            total = table.estimated_rows or 0
            if parallel is None:
                parallel = total > 4 * batch_size and (os.cpu_count() or 1) > 1
            try:
                batches = _batches(table, report, batch_size)
                if parallel:
                    _run_pipelined(state, batches, total, progress)
                else:
                    for batch in batches:
                        state.run_batch(batch)
                        if progress:
                            progress(batch[-1][0], max(total, batch[-1][0]))
                if progress:
                    progress(max(total, 1), max(total, 1))
            finally:
                state.close()
        return report


def _batches(table: Table, report: ImportReport,
             batch_size: int) -> Iterator[list[tuple[int, list[str]]]]:
    """The table's non-blank rows in batches; blank lines are counted, not returned."""
    batch: list[tuple[int, list[str]]] = []
    for number, cells in table.rows:
        if not any(c.strip() for c in cells):
            report.blank += 1
            continue
        batch.append((number, cells))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _run_pipelined(state: _ImportState, batches: Iterator[list[tuple[int, list[str]]]],
                   total: int, progress: Callable[[int, int], None] | None) -> None:
    """Batches prepared in worker processes, looked up and written here, in file order.

    The first batch is prepared here, which also loads the validators and warms the pinyin
    cache the forked workers inherit. Workers fork when this process has no other thread (a
    Rich progress bar runs one), else start from a fork server. Should a worker die, the
    remaining batches are prepared here.
    """
    import multiprocessing
    import threading
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    first = next(batches, None)
    if first is None:
        return
    state.run_batch(first)
    if progress:
        progress(first[-1][0], max(total, first[-1][0]))
    workers = max(1, min(2, os.cpu_count() or 1))
    method = "fork" if threading.active_count() == 1 else "forkserver"
    if method not in multiprocessing.get_all_start_methods():
        method = "spawn"
    queue: deque[tuple[list[tuple[int, list[str]]], Future[list[_Row | str]] | None]] = deque()
    broken = False
    with ProcessPoolExecutor(max_workers=workers,
                             mp_context=multiprocessing.get_context(method)) as pool:
        try:
            for batch in itertools.chain(batches, [None]):
                if batch is not None:
                    future = None if broken else pool.submit(prepare_batch, state.spec, batch)
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
                    state.run_batch(ready, prepared)
                    if progress:
                        progress(ready[-1][0], max(total, ready[-1][0]))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


@dataclass(frozen=True)
class _Spec:
    """What preparing a row needs; plain data, so a worker process can be handed it."""

    columns: tuple[Column, ...]
    width: int
    region: str


class _Validators:
    """The store's own validators (``CustomerOps.validate_customer``, ``_contact_values``),
    callable without an open store: they read nothing but their arguments, so a worker
    process preparing rows applies exactly the rules the store does."""

    def __init__(self) -> None:
        from crm_tui.store.customers.editing import CustomerOps

        self.customer = CustomerOps.validate_customer
        self.contact = CustomerOps._contact_values

    def validate_customer(self, fields: dict[str, Any], region: str) -> Any:
        return self.customer(self, fields, region)  # type: ignore[arg-type]

    def contact_values(self, fields: dict[str, Any], region: str) -> dict[str, Any]:
        return self.contact(self, fields, region)  # type: ignore[arg-type]


_validators: _Validators | None = None


def prepare_row(spec: _Spec, number: int, cells: list[str]) -> _Row | str:
    """One row's cells as validated customer data, or the reason it is rejected."""
    global _validators
    if _validators is None:
        _validators = _Validators()
    width = spec.width
    if len(cells) > width and any(c.strip() for c in cells[width:]):
        return (f"the row has {len(cells)} cells but the header has {width}: "
                "its columns have shifted (an unquoted comma?)")
    fields: dict[str, Any] = {}
    extra: dict[str, str] = {}
    tags: list[str] = []
    contacts: list[dict[str, Any]] = []
    try:
        for column in spec.columns:
            if column.target == "ignore":
                continue
            raw = cells[column.index] if column.index < len(cells) else ""
            value = unneutralise(raw)
            if not value.strip():
                continue
            if column.target == "extra":
                key = column.key or ""
                cleaned = validate.text(f"extra {key!r}", value, limit=EXTRA_VALUE_LIMIT,
                                        multiline=True)
                if cleaned is not None:
                    extra[key] = cleaned
            elif column.target == "tags":
                for tag in split_tags(value):
                    cleaned = validate.text("tag", tag, limit=validate.LIMITS["tag"])
                    if cleaned and cleaned not in tags:
                        tags.append(cleaned)
            elif column.target == "contacts":
                contacts = [_validators.contact_values(c, spec.region)
                            for c in split_contacts(value)]
            elif column.target == "status":
                fields["status"] = _plain_choice(value, STATUS_WORDS)
            elif column.target == "kind":
                fields["kind"] = _plain_choice(value, KIND_WORDS)
            elif column.target == "tier":
                fields["tier"] = _tier_value(value)
            else:
                fields[column.target] = value
        data = _validators.validate_customer(fields, spec.region)
    except ValidationError as exc:
        return str(exc)
    primary_seen = False
    for contact in contacts:
        if contact["is_primary"] and primary_seen:
            contact["is_primary"] = False
        primary_seen = primary_seen or contact["is_primary"]
    provided = {name for name in fields if getattr(data, name, None) is not None}
    row = _Row(number, cells, data, provided, extra, tags, contacts,
               validate.name_key(data.name), core_key(data.name), _company_key(data.company))
    row.search_text = _search_text(row)
    return row


def prepare_batch(spec: _Spec, raw_rows: list[tuple[int, list[str]]]) -> list[_Row | str]:
    """``prepare_row`` over a batch (the unit of work handed to a worker process). The rows
    come back without their cells, which the caller still has: less to send between processes.
    """
    prepared = [prepare_row(spec, number, cells) for number, cells in raw_rows]
    for row in prepared:
        if not isinstance(row, str):
            row.cells = []
    return prepared


def _search_text(row: _Row) -> str:
    """As ``CustomerOps._insert_customer`` computes it, with the contacts' tokens."""
    data = row.data
    contacts = [(c["name"], c["phone"], c["email"]) for c in row.contacts]
    return customer_tokens(data.name, data.company, data.phone, data.email, contacts)


class _ImportState:
    """One import in progress: the in-file index, the rejected file, the counters."""

    def __init__(self, store: ImportOps, actor: Actor, report: ImportReport, headers: list[str],
                 columns: list[Column], on_duplicate: str, pool: bool, dry_run: bool,
                 source: Path) -> None:
        self.store, self.actor, self.report = store, actor, report
        self.headers, self.columns = headers, columns
        self.on_duplicate, self.pool, self.dry_run = on_duplicate, pool, dry_run
        self.source = source
        self.index = _Index()
        self.region = str(store.rules()["default_phone_region"])
        self.spec = _Spec(tuple(columns), len(headers), self.region)
        self.mask_label = f"imported from {source.name}"[:500]
        self.rejected_writer: Any = None
        self.rejected_handle: Any = None
        self.tag_ids: dict[str, int] = {}
        self.width = len(headers)
        self.pending: list[tuple[int, list[str], str, str]] = []
        self.keep = [i for i, h in enumerate(headers) if h not in (REJECTED_ROW, REJECTED_REASON)]

    # --- problems ---------------------------------------------------------------------------

    def problem(self, number: int, cells: list[str], status: str, reason: str) -> None:
        """Note a skipped or rejected row; the batch's notes are recorded in row order."""
        self.pending.append((number, cells, status, reason))

    def flush(self) -> None:
        report = self.report
        for number, cells, status, reason in sorted(self.pending, key=lambda p: p[0]):
            if status == "rejected":
                report.rejected += 1
            else:
                report.skipped += 1
            report.reasons[_reason_kind(reason)] += 1
            if len(report.problems) < PROBLEM_LIMIT:
                report.problems.append({"row": number, "status": status, "reason": reason})
            if not self.dry_run:
                self._write_rejected(number, cells, reason)
        self.pending = []

    def _write_rejected(self, number: int, cells: list[str], reason: str) -> None:
        report = self.report
        if report.rejected_file_error:
            return
        if self.rejected_writer is None:
            target = self.source.with_name(f"{self.source.stem}.rejected.csv")
            try:
                self.rejected_handle = target.open("w", encoding="utf-8-sig", newline="")
            except OSError as exc:
                report.rejected_file_error = f"{target}: {exc.strerror or exc}"
                return
            self.rejected_writer = csv.writer(self.rejected_handle, dialect="excel")
            self.rejected_writer.writerow(
                [REJECTED_ROW, REJECTED_REASON, *(self.headers[i] for i in self.keep)]
            )
            report.rejected_file = str(target)
        kept = [cells[i] if i < len(cells) else "" for i in self.keep] + cells[self.width:]
        self.rejected_writer.writerow([number, reason, *kept])

    def close(self) -> None:
        if self.rejected_handle is not None:
            self.rejected_handle.close()
            self.rejected_handle = None

    # --- preparing --------------------------------------------------------------------------

    def prepare(self, number: int, cells: list[str]) -> _Row | None:
        prepared = prepare_row(self.spec, number, cells)
        if isinstance(prepared, str):
            self.problem(number, cells, "rejected", prepared)
            return None
        return prepared

    # --- a batch ----------------------------------------------------------------------------

    def run_batch(self, raw_rows: list[tuple[int, list[str]]],
                  prepared: list[_Row | str] | None = None) -> None:
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
                self.problem(number, cells, "rejected", outcome)
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
            self.pending = []
            first, last = raw_rows[0][0], raw_rows[-1][0]
            reason = str(exc) if isinstance(exc, CrmError) else f"{type(exc).__name__}: {exc}"
            report.stopped = (f"rows {first} to {last} were not imported ({reason}); the rows "
                              "before them were, and importing the file again skips those")
            raise ImportStopped(f"The import stopped: {report.stopped}.", report) from exc
        report.read += len(raw_rows)
        self.flush()

    def _decide_and_write(self, conn: Connection, rows: list[_Row]) -> None:
        store, actor, report = self.store, self.actor, self.report
        owner_id = None if self.pool else actor.id
        room: int | None = None
        if owner_id is not None:
            if not self.dry_run:
                store._lock_rep(conn, owner_id)
            cap = int(store.rule(conn, "private_cap"))
            if cap > 0:
                owned = store._count(conn, customer_t.c.owner_id == owner_id)
                room = max(0, cap - owned - (report.added if self.dry_run else 0))
        found = self._lookup(conn, rows)
        added: list[_Target] = []
        merges: dict[int, _Merge] = {}
        for row in rows:
            matches = self._dedupe(found.matches(row) + self.index.matches(row))
            others = [(t, on) for t, on in matches
                      if t.owner_id is not None and t.owner_id != actor.id]
            if others and not actor.is_admin:
                target, on = others[0]
                who = target.owner_name or target.owner_login
                self.problem(row.number, row.cells, "skipped",
                             f"already exists (same {on}), owned by {who} ({target.owner_login})")
                continue
            if matches and self.on_duplicate == "skip":
                self.problem(row.number, row.cells, "skipped", _duplicate_reason(*matches[0], actor))
                continue
            if matches and self.on_duplicate == "merge":
                target, on = matches[0]
                if self._merge(conn, row, target, merges):
                    report.merged += 1
                else:
                    self.problem(row.number, row.cells, "skipped",
                                 _duplicate_reason(target, on, actor) + "; nothing new to merge")
                continue
            if room is not None:
                if room <= 0:
                    self.problem(row.number, row.cells, "rejected",
                                 "private_cap: your private sea is full (rule private_cap); "
                                 "import these rows with --pool or after the cap is raised")
                    continue
                room -= 1
            target = _Target(None, owner_id, actor.login, actor.name, row=row.number, pending=row)
            self.index.add(target, row.data.phone, row.data.email, row.name_key, row.core,
                           row.company_key)
            added.append(target)
            report.added += 1
        if not self.dry_run:
            self._write_added(conn, added, owner_id)
            self._write_merges(conn, list(merges.values()))
            store._changed(conn, [t.customer_id for t in added if t.customer_id] + list(merges))
        for target in added:
            target.pending = None  # keep the index small: keys and ids only

    @staticmethod
    def _dedupe(matches: list[tuple[_Target, str]]) -> list[tuple[_Target, str]]:
        """One entry per customer; a database row wins over the same customer met in the file."""
        seen: set[int] = set()
        out: list[tuple[_Target, str]] = []
        for target, on in matches:
            key = target.customer_id if target.customer_id is not None else -id(target)
            if key in seen:
                continue
            seen.add(key)
            out.append((target, on))
        return out

    # --- looking up the database ------------------------------------------------------------

    def _lookup(self, conn: Connection, rows: list[_Row]) -> _Index:
        """Database customers sharing a duplicate key with any row of the batch, indexed.

        Exact keys (phone, email, name key and the name with each legal form) are index
        look-ups; the fuzzy block is "same company": its names are fetched (light rows only,
        and not for a company with more than ``FUZZY_BLOCK_LIMIT`` customers, which is no
        block at all) and scored with rapidfuzz against the batch's names of that company.
        """
        phones = {r.data.phone for r in rows if r.data.phone}
        emails = {r.data.email for r in rows if r.data.email}
        keys = {r.name_key for r in rows if r.name_key}
        for row in rows:
            if len(row.core) >= 2:
                keys.update(core_variants(row.core))
        index = _Index()
        seen: set[int] = set()
        conditions = [self._one_of(column, sorted(values)) for column, values in (
            (customer_t.c.phone, phones), (customer_t.c.email, emails),
            (customer_t.c.name_key, keys)) if values]
        similar = self._company_block(conn, rows)
        if similar:
            conditions.append(self._one_of(customer_t.c.id, sorted(similar)))
        columns = [customer_t.c.id, customer_t.c.owner_id, customer_t.c.name, customer_t.c.phone,
                   customer_t.c.email, customer_t.c.company, rep_t.c.login,
                   rep_t.c.name.label("rep_name")]
        for condition in conditions:
            statement = (
                select(*columns)
                .select_from(customer_t.outerjoin(rep_t, rep_t.c.id == customer_t.c.owner_id))
                .where(condition)
            )
            for found in conn.execute(statement):
                if found.id in seen:
                    continue
                seen.add(found.id)
                target = _Target(found.id, found.owner_id, found.login, found.rep_name)
                index.add(target, found.phone, found.email, validate.name_key(found.name),
                          core_key(found.name), _company_key(found.company))
        rls_applies = getattr(self.store, "rls_applies", None)
        if rls_applies is not None and rls_applies(conn):
            # PostgreSQL row-level security hides other reps' customers from a rep's role: ask
            # the store's duplicate check, which names their owners and nothing else.
            for row in rows:
                for hidden in self.store.duplicate_candidates(  # type: ignore[attr-defined]
                    conn, row.name_key, row.data.phone, row.data.email, None
                ):
                    if hidden.id in seen:
                        continue
                    seen.add(hidden.id)
                    target = _Target(hidden.id, hidden.owner_id, hidden.login, hidden.name)
                    by_name = not hidden.phone and not hidden.email
                    index.add(target, hidden.phone, hidden.email,
                              row.name_key if by_name else "", "", None)
        return index

    def _company_block(self, conn: Connection, rows: list[_Row]) -> set[int]:
        """Ids of customers of the batch's companies whose name scores as a look-alike."""
        wanted: dict[str, list[str]] = {}
        for row in rows:
            if row.data.company:
                wanted.setdefault(row.data.company, []).append(row.name_key)
        if not wanted:
            return set()
        companies = sorted(wanted)
        crowded = {company for company, n in conn.execute(
            select(customer_t.c.company, func.count())
            .where(self._one_of(customer_t.c.company, companies))
            .group_by(customer_t.c.company)
        ) if n > FUZZY_BLOCK_LIMIT}
        usable = [c for c in companies if c not in crowded]
        if not usable:
            return set()
        from rapidfuzz import fuzz

        found: set[int] = set()
        for customer_id, name_key, company in conn.execute(
            select(customer_t.c.id, customer_t.c.name_key, customer_t.c.company)
            .where(self._one_of(customer_t.c.company, usable))
        ):
            for key in wanted.get(company, ()):
                if fuzz.ratio(key, name_key, score_cutoff=FUZZY_CUTOFF):
                    found.add(customer_id)
                    break
        return found

    def _one_of(self, column: Any, values: list[Any]) -> Any:
        """``column`` is one of ``values``: a single bound parameter however many values (a JSON
        array read by ``json_each`` on SQLite, an array on PostgreSQL), so a batch's thousands
        of keys cost one index probe each and no per-value SQL compilation."""
        if self.store.is_sqlite:
            return column.in_(
                select(literal_column("value")).select_from(
                    func.json_each(literal(json.dumps(values, ensure_ascii=False)))
                )
            )
        element = Integer if values and isinstance(values[0], int) else String
        return column == any_(literal(values, type_=ARRAY(element)))

    # --- merging ----------------------------------------------------------------------------

    def _merge(self, conn: Connection, row: _Row, target: _Target,
               merges: dict[int, _Merge]) -> bool:
        """Fill ``target``'s empty fields from ``row``; True when anything was added."""
        if target.pending is not None:
            return self._merge_pending(row, target)
        if target.customer_id is None:
            # An added row of an earlier batch in a dry run: it would be merged into.
            return True
        if target.values is None:
            self._load_values(conn, target)
        if target.tags is None:
            target.tags = set(self.store._tags_of(conn, target.customer_id))  # type: ignore[attr-defined]
            target.contact_keys = {
                _contact_key(dict(name=c.name, phone=c.phone, email=c.email))
                for c in conn.execute(select(contact_t.c.name, contact_t.c.phone, contact_t.c.email)
                                      .where(contact_t.c.customer_id == target.customer_id))
            }
        merge = merges.get(target.customer_id)
        if merge is None:
            merge = merges[target.customer_id] = _Merge(target)
        current = target.values or {}
        changed = False
        for name in sorted(row.provided - {"name"}):
            new = getattr(row.data, name)
            old = current.get(name)
            if old in (None, ""):
                current[name] = new
                merge.changes[name] = (old, new)
                changed = True
            elif old != new:
                self._conflict(row.number, target, name, old, new)
        extra_now = current.setdefault("extra", {})
        for key, value in row.extra.items():
            if key not in extra_now:
                extra_now[key] = value
                merge.extra[key] = value
                changed = True
            elif extra_now[key] != value:
                self._conflict(row.number, target, f"extra.{key}", extra_now[key], value)
        for tag in row.tags:
            if tag not in target.tags:
                target.tags.add(tag)
                merge.tags.append(tag)
                changed = True
        for contact in row.contacts:
            key = _contact_key(contact)
            if key not in (target.contact_keys or set()):
                (target.contact_keys or set()).add(key)
                merge.contacts.append(dict(contact, is_primary=False))
                changed = True
        if changed:
            self._reindex(target, current.get("name") or "", current.get("phone"),
                          current.get("email"), current.get("company"))
        return changed

    def _merge_pending(self, row: _Row, target: _Target) -> bool:
        """Merge ``row`` into a row of this batch that is about to be added."""
        pending = target.pending
        assert pending is not None
        changed = False
        for name in sorted(row.provided - {"name"}):
            new, old = getattr(row.data, name), getattr(pending.data, name)
            if name not in pending.provided or old in (None, ""):
                setattr(pending.data, name, new)
                pending.provided.add(name)
                changed = changed or old != new
            elif old != new:
                self._conflict(row.number, target, name, old, new)
        for key, value in row.extra.items():
            if key not in pending.extra:
                pending.extra[key] = value
                changed = True
            elif pending.extra[key] != value:
                self._conflict(row.number, target, f"extra.{key}", pending.extra[key], value)
        for tag in row.tags:
            if tag not in pending.tags:
                pending.tags.append(tag)
                changed = True
        known = {_contact_key(c) for c in pending.contacts}
        for contact in row.contacts:
            if _contact_key(contact) not in known:
                known.add(_contact_key(contact))
                pending.contacts.append(dict(contact, is_primary=False))
                changed = True
        if changed:
            data = pending.data
            pending.search_text = None
            self._reindex(target, data.name, data.phone, data.email, data.company)
        return changed

    def _reindex(self, target: _Target, name: str, phone: str | None, email: str | None,
                 company: str | None) -> None:
        """Let later rows find ``target`` by the keys a merge gave it."""
        self.index.add(target, phone, email, validate.name_key(name), core_key(name),
                       _company_key(company))

    def _conflict(self, number: int, target: _Target, name: str, old: Any, new: Any) -> None:
        """A differing non-empty value: the existing one is kept, and the report says so."""
        self.report.conflicts += 1
        if len(self.report.conflict_examples) < PROBLEM_LIMIT:
            self.report.conflict_examples.append({
                "row": number, "customer_id": target.customer_id, "added_by_row": target.row,
                "field": name, "kept": old, "file": new,
            })

    def _load_values(self, conn: Connection, target: _Target) -> None:
        found = conn.execute(
            select(*(customer_t.c[name] for name in CUSTOMER_FIELDS), customer_t.c.extra,
                   customer_t.c.version).where(customer_t.c.id == target.customer_id)
        ).one()
        target.values = {name: getattr(found, name) for name in CUSTOMER_FIELDS}
        target.values["extra"] = dict(found.extra or {})
        target.version = found.version

    # --- writing ----------------------------------------------------------------------------

    def _write_added(self, conn: Connection, added: list[_Target], owner_id: int | None) -> None:
        if not added:
            return
        store, actor = self.store, self.actor
        now = store.clock.now()
        values = []
        for target in added:
            row = target.pending
            assert row is not None
            data = row.data
            # As CustomerOps._insert_customer builds them, with the contacts' search tokens.
            item = dict(vars(data))
            item.update(
                extra=row.extra or None,
                owner_id=owner_id,
                claimed_at=now if owner_id is not None else None,
                pool_entered_at=now if owner_id is None else None,
                locked=False,
                search_text=row.search_text or _search_text(row),
                name_key=validate.name_key(data.name),
                created_at=now,
                updated_at=now,
                updated_by_id=actor.id,
                version=1,
            )
            values.append(item)
        ids = self._insert_customers(conn, values)
        contact_rows: list[dict[str, Any]] = []
        tag_rows: list[dict[str, Any]] = []
        for target, customer_id in zip(added, ids, strict=True):
            target.customer_id = customer_id
            row = target.pending
            assert row is not None
            contact_rows += [dict(customer_id=customer_id, **c) for c in row.contacts]
            tag_rows += [dict(customer_id=customer_id, tag_id=self._tag_id(conn, t))
                         for t in row.tags]
        if contact_rows:
            conn.execute(insert(contact_t), contact_rows)
        if tag_rows:
            conn.execute(insert(customer_tag_t), tag_rows)
        # The "created" ownership events and the audit events, as ``_ownership`` and ``_audit``
        # write them, in one INSERT ... SELECT each instead of a parameter set per customer.
        batch = self._one_of(customer_t.c.id, ids)
        at = literal(now, type_=ownership_t.c.at.type)
        conn.execute(insert(ownership_t).from_select(
            ["customer_id", "kind", "actor_id", "from_rep_id", "to_rep_id", "reason", "at"],
            select(customer_t.c.id, literal("created"), literal(actor.id), null(),
                   literal(owner_id, type_=Integer), literal(self.mask_label), at).where(batch),
        ))
        conn.execute(insert(audit_t).from_select(
            ["actor_id", "entity", "entity_id", "action", "at"],
            select(literal(actor.id), literal("customer"), customer_t.c.id, literal("import"),
                   literal(now, type_=audit_t.c.at.type)).where(batch),
        ))
        self.report.added_ids.extend(ids)

    def _insert_customers(self, conn: Connection, values: list[dict[str, Any]]) -> list[int]:
        """Insert the batch's customers in one statement; their ids in the order given."""
        if self.store.is_sqlite:
            # The write transaction holds SQLite's write lock (BEGIN IMMEDIATE), so the rows
            # get the next rowids in order: a plain executemany, far faster than RETURNING,
            # which SQLAlchemy sends one row at a time on SQLite when the order must hold.
            # The search index is filled by one INSERT ... SELECT instead of the per-row
            # trigger (less than half the cost); the trigger is dropped and re-created inside
            # this same transaction, so no other connection ever sees it missing.
            before = conn.execute(select(func.max(customer_t.c.id))).scalar() or 0
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {_FTS_INSERT_TRIGGER}")
            conn.execute(insert(customer_t), values)
            conn.exec_driver_sql(
                "INSERT INTO customer_fts(rowid, search_text) "
                "SELECT id, search_text FROM customer WHERE id > ?", (before,)
            )
            conn.exec_driver_sql(search_sql.FTS_TRIGGERS[_FTS_INSERT_TRIGGER])
            ids = list(conn.execute(
                select(customer_t.c.id).where(customer_t.c.id > before).order_by(customer_t.c.id)
            ).scalars())
            if len(ids) != len(values):
                raise RuntimeError("customer ids of the batch could not be read back")
            return ids
        return list(conn.execute(
            insert(customer_t).returning(customer_t.c.id, sort_by_parameter_order=True), values
        ).scalars())

    def _tag_id(self, conn: Connection, name: str) -> int:
        tag_id = self.tag_ids.get(name)
        if tag_id is None:
            tag_id = conn.execute(select(tag_t.c.id).where(tag_t.c.name == name)).scalar()
            if tag_id is None:
                tag_id = conn.execute(
                    insert(tag_t).values(name=name).returning(tag_t.c.id)
                ).scalar_one()
            self.tag_ids[name] = tag_id
        return tag_id

    def _write_merges(self, conn: Connection, merges: list[_Merge]) -> None:
        store, actor = self.store, self.actor
        for merge in merges:
            customer_id = merge.target.customer_id
            assert customer_id is not None
            changes = dict(merge.changes)
            new_values: dict[str, Any] = {name: new for name, (_, new) in merge.changes.items()}
            if merge.extra:
                full = dict((merge.target.values or {}).get("extra") or {})
                old_extra = {k: v for k, v in full.items() if k not in merge.extra}
                new_values["extra"] = full
                changes["extra"] = (old_extra or None, full)
            if merge.tags:
                conn.execute(insert(customer_tag_t), [
                    dict(customer_id=customer_id, tag_id=self._tag_id(conn, tag))
                    for tag in merge.tags
                ])
                changes["tags"] = (None, ", ".join(merge.tags))
            if merge.contacts:
                conn.execute(insert(contact_t),
                             [dict(customer_id=customer_id, **c) for c in merge.contacts])
                changes["contacts"] = (None, ", ".join(c["name"] for c in merge.contacts))
            if not changes:
                continue
            if merge.contacts or any(k in new_values for k in ("company", "phone", "email")):
                new_values["search_text"] = store._search_text(  # type: ignore[attr-defined]
                    conn, customer_id, _Fields(merge.target.values or {}))
            conn.execute(
                update(customer_t).where(customer_t.c.id == customer_id).values(
                    **new_values, updated_at=store.clock.now(), updated_by_id=actor.id,
                    version=customer_t.c.version + 1,
                )
            )
            store._audit(conn, actor, "customer", customer_id, "update", changes)


class _Fields:
    """Attribute access over a dict of customer values (what ``_search_text`` reads)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.name = values.get("name") or ""
        self.company = values.get("company")
        self.phone = values.get("phone")
        self.email = values.get("email")


def _contact_key(contact: dict[str, Any]) -> tuple[str, str, str]:
    return (validate.name_key(contact.get("name") or ""), contact.get("phone") or "",
            contact.get("email") or "")


def _duplicate_reason(target: _Target, on: str, actor: Actor) -> str:
    if target.row is not None:
        return f"duplicate of row {target.row} of this file (same {on})"
    if target.owner_id is None:
        where = "in the open sea"
    elif target.owner_id == actor.id:
        where = "owned by you"
    else:
        where = f"owned by {target.owner_name or target.owner_login} ({target.owner_login})"
    return f"duplicate of customer {target.customer_id} (same {on}), {where}"


def _reason_kind(reason: str) -> str:
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

