"""Import and export of customer files (CSV, XLSX, JSON)."""
