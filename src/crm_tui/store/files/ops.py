"""Import and export as ``Store`` methods, their modules loaded on first use.

``importing`` and ``exporting`` (tabular files, header maps, duplicate matching) cost ~25 ms of
imports that neither the first screen nor a quick ``crm find`` needs (DESIGN §9); these methods
import them when first called and run the implementations there, with this store as ``self``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crm_tui.store.db.base import StoreBase

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crm_tui.store.files.exporting import ExportResult
    from crm_tui.store.files.importing import ImportPreview, ImportReport


class FileOps(StoreBase):
    """``importing.ImportOps`` and ``exporting.ExportOps``, loaded when first used.

    Their methods run with this store as ``self``: mypy sees a ``FileOps`` where it expects an
    ``ImportOps`` (hence the ignores); both need only what every ``StoreBase`` has.
    """

    def preview_import(self, *args: Any, **kwargs: Any) -> ImportPreview:
        """See ``importing.ImportOps.preview_import``."""
        from crm_tui.store.files.importing import ImportOps

        return ImportOps.preview_import(self, *args, **kwargs)  # type: ignore[arg-type]  # run with this store as self

    def import_file(self, *args: Any, **kwargs: Any) -> ImportReport:
        """See ``importing.ImportOps.import_file``."""
        from crm_tui.store.files.importing import ImportOps

        return ImportOps.import_file(self, *args, **kwargs)  # type: ignore[arg-type]  # run with this store as self

    def export_count(self, *args: Any, **kwargs: Any) -> int:
        """See ``exporting.ExportOps.export_count``."""
        from crm_tui.store.files.exporting import ExportOps

        return ExportOps.export_count(self, *args, **kwargs)  # type: ignore[arg-type]  # run with this store as self

    def export_extra_keys(self, *args: Any, **kwargs: Any) -> list[str]:
        """See ``exporting.ExportOps.export_extra_keys``."""
        from crm_tui.store.files.exporting import ExportOps

        return ExportOps.export_extra_keys(self, *args, **kwargs)  # type: ignore[arg-type]  # run with this store as self

    def iter_export(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """See ``exporting.ExportOps.iter_export``."""
        from crm_tui.store.files.exporting import ExportOps

        return ExportOps.iter_export(self, *args, **kwargs)  # type: ignore[arg-type]  # run with this store as self

    def export_customers(self, *args: Any, **kwargs: Any) -> ExportResult:
        """See ``exporting.ExportOps.export_customers``."""
        from crm_tui.store.files.exporting import ExportOps

        return ExportOps.export_customers(self, *args, **kwargs)  # type: ignore[arg-type]  # run with this store as self
