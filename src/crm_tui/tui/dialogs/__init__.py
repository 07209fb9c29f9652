"""Modal dialogs: forms, filters, help; each dismisses with a value."""
