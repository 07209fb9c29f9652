"""The team: reps, roles, and the team's settings (the rules)."""
