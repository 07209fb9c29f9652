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
- **Validation** is the store's own (``validate.customer``, ``validate.contact``,
  ``validate.parse_tags``), plus ``extra`` values (no control characters, bounded lengths); the
  Chinese values of status, kind and tier (意向, 个人, A类) are understood here as on every path.
- **Duplicates** are looked for in the database and earlier in the same file by the store's one
  rule (``customers/duplicates.py``): the same E.164 phone, the same case-folded email, or the
  same name at the same company (a company's own name, without its legal form, is its company:
  华为技术有限公司 and 华为技术公司; Acme Ltd and Acme Inc), unless both phones are known and
  differ. A name alone is no duplicate: a same-name row with another phone is added. Candidates
  are narrowed by index look-ups per batch, never scored against the whole table (DESIGN §11).
  DESIGN §5 holds: a match owned by
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

Where each part lives:

- ``columns``: the header row found, each column mapped to a field (``plan_columns``);
- ``rows``: a row's cells read and validated (``prepare_row``), batches of rows;
- ``keys`` and ``matching``: duplicate keys, and the customers a row duplicates;
- ``merging``: ``--on-duplicate merge``; ``writer``: a batch's customers and merges written;
- ``report``: the report, and the skipped and rejected rows (the rejected file);
- ``run``: one import in progress, batch by batch (in worker processes for big files);
- ``ops``: ``ImportOps``, the ``Store`` methods ``preview_import`` and ``import_file``.

These modules cost imports that neither the first screen nor ``crm find`` needs (DESIGN §9):
``files.ops.FileOps`` loads this package when an import is first asked for.
"""

from __future__ import annotations

from crm_tui.store.files.importing.columns import (
    CUSTOMER_FIELDS,
    EXPORT_COLUMNS,
    EXPORT_MANAGED,
    FIELDS,
    HEADER_SYNONYMS,
    REJECTED_REASON,
    REJECTED_ROW,
    Column,
    field_for_header,
    header_key,
    parse_map_options,
    plan_columns,
    read_header,
)
from crm_tui.store.files.importing.keys import core_key, core_variants
from crm_tui.store.files.importing.matching import FUZZY_BLOCK_LIMIT, FUZZY_CUTOFF
from crm_tui.store.files.importing.ops import ImportOps
from crm_tui.store.files.importing.report import (
    PROBLEM_LIMIT,
    ImportPreview,
    ImportReport,
    ImportStopped,
)
from crm_tui.store.files.importing.rows import (
    EXTRA_VALUE_LIMIT,
    PreparedRow,
    RowSpec,
    prepare_batch,
    prepare_row,
    split_contacts,
    unneutralise,
)
from crm_tui.store.files.importing.run import BATCH_SIZE, ON_DUPLICATE, ImportRun

__all__ = [
    "BATCH_SIZE",
    "CUSTOMER_FIELDS",
    "EXPORT_COLUMNS",
    "EXPORT_MANAGED",
    "EXTRA_VALUE_LIMIT",
    "FIELDS",
    "FUZZY_BLOCK_LIMIT",
    "FUZZY_CUTOFF",
    "HEADER_SYNONYMS",
    "ON_DUPLICATE",
    "PROBLEM_LIMIT",
    "REJECTED_REASON",
    "REJECTED_ROW",
    "Column",
    "ImportOps",
    "ImportPreview",
    "ImportReport",
    "ImportRun",
    "ImportStopped",
    "PreparedRow",
    "RowSpec",
    "core_key",
    "core_variants",
    "field_for_header",
    "header_key",
    "parse_map_options",
    "plan_columns",
    "prepare_batch",
    "prepare_row",
    "read_header",
    "split_contacts",
    "unneutralise",
]
