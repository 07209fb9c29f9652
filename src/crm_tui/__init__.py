"""crm-tui: a customer relationship manager for sales teams that lives in the terminal."""

__version__ = "0.1.0"

STORE_ON_DEMAND = False
"""Set by ``crm``'s TUI before it first imports ``crm_tui.store`` (``tui_launch``): that process
takes the store's records and errors from its helper process and loads the store itself
(SQLAlchemy) only if it has to. Everywhere else ``import crm_tui.store`` loads the whole store."""
