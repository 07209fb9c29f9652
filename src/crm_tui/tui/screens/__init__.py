"""One module per screen (keys 1-4, the portrait, import, rules, transfer)."""
