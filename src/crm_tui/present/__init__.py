"""What the CLI and the TUI both show: formatting, the portrait's renderables, safe text."""
