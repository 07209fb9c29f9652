"""Import and export commands: crm import, crm export."""

from __future__ import annotations
