"""Open sea and private sea: claim, release, lock, recycle, transfer (DESIGN §4)."""
