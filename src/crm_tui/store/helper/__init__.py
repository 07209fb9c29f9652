"""The TUI's store in a helper process and the transport that reaches it."""
