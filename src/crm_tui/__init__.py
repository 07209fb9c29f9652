"""crm-tui: a customer relationship manager for sales teams that lives in the terminal."""

__version__ = "0.1.0"
