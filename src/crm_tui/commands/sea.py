"""Open-sea commands: pool, claim, release, lock, unlock, transfer, recycle, rules, reps deactivate."""

from __future__ import annotations
