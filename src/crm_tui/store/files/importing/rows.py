"""A file's rows read and validated: cells in, a customer's values (or the reason it is refused) out.

A blank line is not a row (it is counted as ``blank``); a row with fewer cells than the header has
its missing cells empty; a row with more non-empty cells than the header is rejected (its columns
have shifted, so its values cannot be trusted). Values are validated by the store's own rules
(``validate.customer``, ``validate.contact``, ``validate.parse_tags``: so 意向, 个人 and A类 are
understood here as on every other path), plus ``extra`` values (no control characters, bounded
lengths). Preparing a row reads nothing but the row, so batches can be prepared in worker
processes (``run.run_pipelined``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from crm_tui.store import validate
from crm_tui.store.customers.duplicates import match_key
from crm_tui.store.errors import ValidationError
from crm_tui.store.files.importing.columns import Column
from crm_tui.store.files.importing.keys import company_key, core_key
from crm_tui.store.files.importing.report import ImportReport
from crm_tui.store.files.tabular import Table
from crm_tui.store.search.tokens import customer_tokens
from crm_tui.store.validate import CustomerInput

EXTRA_VALUE_LIMIT = 2000

_CONTACT_SPLIT = re.compile(r"[;；\n]+")
_PHONEISH = re.compile(r"^[\d\s+\-().]{5,}$")
_NEUTRALISED = ("'=", "'+", "'-", "'@", "'\t", "'\r")

RawRow = tuple[int, list[str]]  # a row's number in the file and its cells


@dataclass(frozen=True)
class RowSpec:
    """What preparing a row needs; plain data, so a worker process can be handed it."""

    columns: tuple[Column, ...]
    width: int
    region: str


@dataclass
class PreparedRow:
    """A row's validated values and its duplicate keys."""

    number: int
    cells: list[str]
    data: CustomerInput
    provided: set[str]
    extra: dict[str, str]
    tags: list[str]
    contacts: list[dict[str, Any]]
    name_key: str
    core: str
    company_key: str | None
    search_text: str | None = None  # None once a merge changed the row
    match_key: str | None = None  # duplicates.match_key: the same name at the same company


def unneutralise(value: str) -> str:
    """Undo the ``'`` a spreadsheet export puts before ``=``, ``+``, ``-``, ``@`` (formula guard)."""
    if value.startswith(_NEUTRALISED):
        return value[1:]
    return value



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
        contacts: list[dict[str, Any]] = []
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



def prepare_row(spec: RowSpec, number: int, cells: list[str]) -> PreparedRow | str:
    """One row's cells as validated customer data, or the reason it is rejected."""
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
                tags = validate.tags([*tags, *validate.parse_tags(value)])
            elif column.target == "contacts":
                contacts = [validate.contact(c, spec.region) for c in split_contacts(value)]
            else:
                fields[column.target] = value
        data = validate.customer(fields, spec.region)
    except ValidationError as exc:
        return str(exc)
    primary_seen = False
    for contact in contacts:
        if contact["is_primary"] and primary_seen:
            contact["is_primary"] = False
        primary_seen = primary_seen or contact["is_primary"]
    provided = {name for name in fields if getattr(data, name, None) is not None}
    row = PreparedRow(number, cells, data, provided, extra, tags, contacts,
                      validate.name_key(data.name), core_key(data.name), company_key(data.company))
    row.search_text = row_search_text(row)
    row.match_key = match_key(data.name, data.kind, data.company)
    return row


def prepare_batch(spec: RowSpec, raw_rows: list[RawRow]) -> list[PreparedRow | str]:
    """``prepare_row`` over a batch (the unit of work handed to a worker process). The rows
    come back without their cells, which the caller still has: less to send between processes.
    """
    prepared = [prepare_row(spec, number, cells) for number, cells in raw_rows]
    for row in prepared:
        if not isinstance(row, str):
            row.cells = []
    return prepared


def row_search_text(row: PreparedRow) -> str:
    """The row's search tokens, as ``CustomerOps._insert_customer`` computes them, with the
    contacts' tokens."""
    data = row.data
    contacts = [(c["name"], c["phone"], c["email"]) for c in row.contacts]
    return customer_tokens(data.name, data.company, data.phone, data.email, contacts)


def batches(table: Table, report: ImportReport, batch_size: int) -> Iterator[list[RawRow]]:
    """The table's non-blank rows in batches; blank lines are counted, not returned."""
    batch: list[RawRow] = []
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
