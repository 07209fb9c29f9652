"""The sales work on a customer: follow-ups and deals."""
