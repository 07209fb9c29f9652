"""Demo data for ``crm init --demo N``."""
