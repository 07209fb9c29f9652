"""Customers: create, edit, contacts, tags, the portrait."""
