"""Customer value and the manager's dashboard."""
