"""Demo data for ``crm init --demo N``.

``generate`` is the entry point; ``names`` holds the realistic pools, ``rows`` draws the rows,
``chunks`` produces them in batches (in a child process for big loads) and ``load`` writes
them in bulk, one fast path per backend.
"""

from crm_tui.store.demo.generate import generate_demo

__all__ = ["generate_demo"]
