"""Finding customers: the token index, search, and listing windows."""
