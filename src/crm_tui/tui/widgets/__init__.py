"""Reusable widgets: the virtual customer table, search bar, charts, badges."""
