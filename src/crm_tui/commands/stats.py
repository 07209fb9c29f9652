"""crm stats: the dashboard as text."""

from __future__ import annotations
