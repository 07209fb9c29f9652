"""Connections, transactions, change notices: the store's way to the database."""
