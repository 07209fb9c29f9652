"""Producing the demo's batches: drawn in this process, or by a child process while this one
writes (two cores, one each), feeding the side search index of a fresh SQLite load as well.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from crm_tui.store.children import die_with_parent
from crm_tui.store.demo.load import SideIndex
from crm_tui.store.demo.rows import CUSTOMER_COLUMNS, Batch, DemoGenerator

CHUNK = 20_000
MAX_DEMO = 10_000_000
"""Most demo customers one ``crm init --demo`` adds (the CLI refuses more, exit 2)."""


def chunks(settings: dict[str, Any]) -> Iterator[Batch]:
    """The batches of a load, drawn in this process."""
    left = int(settings["n"])
    if not 0 <= left <= MAX_DEMO:
        from crm_tui.store.errors import UsageError

        raise UsageError(f"--demo must be between 0 and {MAX_DEMO:,}, not {left:,}.")
    generator = DemoGenerator(**settings)
    while left > 0:
        size = min(CHUNK, left)
        left -= size
        yield generator.chunk(size)


_SEARCH_TEXT = CUSTOMER_COLUMNS.index("search_text")


def _produce(settings: dict[str, Any], queue: Any, side_queue: Any = None,
             parent: int | None = None) -> None:
    """The child's work: every batch onto ``queue`` (and its search text onto ``side_queue``),
    then ``None``; a failure goes onto ``queue`` for the loader to raise. It ends with the
    loader (``children.die_with_parent``): a killed ``crm init --demo`` leaves no worker."""
    die_with_parent(parent)
    try:
        for batch in chunks(settings):
            queue.put(batch)
            if side_queue is not None:
                side_queue.put([(row[0], row[_SEARCH_TEXT]) for row in batch.customers])
        if side_queue is not None:
            side_queue.put(None)
        queue.put(None)
    except BaseException as exc:  # the loader re-raises it
        queue.put(exc)


def chunks_from_worker(settings: dict[str, Any], side: SideIndex | None = None) -> Iterator[Batch]:
    """The same batches, drawn by a child process while this one writes (two cores, one each).

    Only where ``fork`` exists; elsewhere, or if the child cannot start, in this process.
    """
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        yield from chunks(settings)
        return
    context = multiprocessing.get_context("fork")
    queue = context.Queue(maxsize=3)
    worker = context.Process(target=_produce, daemon=True,
                             args=(settings, queue, side.queue if side else None, os.getpid()))
    worker.start()
    finished = False
    try:
        while True:
            item = queue.get()
            if item is None:
                finished = True
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # A finished worker may still be handing its last rows to the side index: let it.
        if not finished and worker.is_alive():
            worker.terminate()
        worker.join()
