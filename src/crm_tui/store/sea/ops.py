"""Open sea and private sea (DESIGN §4), composed from the modules that hold each move:

- ``claim.py``: claim, the hot path (one conditional UPDATE decides a race);
- ``release.py``: release to the open sea, lock and unlock key accounts;
- ``recycle.py``: the recycle rules applied;
- ``transfer.py``: transfers between reps and deactivating a rep;
- ``pool.py``: browsing the open sea; ``rules.py``: changing the rules;
- ``moves.py``: what the moves share; ``caps.py``: the private cap; ``deadlines.py``: when a
  customer recycles.

Every move is one transaction whose last word is a conditional UPDATE, so the database and not
the client decides who wins a race. Every move writes an ``ownership_event`` and is announced
(PostgreSQL NOTIFY) after it commits; every refusal is a ``RuleRefused`` naming its rule.
"""

from __future__ import annotations

from crm_tui.store.sea.claim import ClaimOps
from crm_tui.store.sea.pool import PoolOps
from crm_tui.store.sea.recycle import RecycleOps
from crm_tui.store.sea.release import ReleaseOps
from crm_tui.store.sea.rules import RuleOps
from crm_tui.store.sea.transfer import TransferOps


class SeaOps(ClaimOps, ReleaseOps, RecycleOps, TransferOps, PoolOps, RuleOps):
    """The ownership rules; every move writes an ownership_event."""
