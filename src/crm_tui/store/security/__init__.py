"""Who may see what inside PostgreSQL: roles and row-level security."""
