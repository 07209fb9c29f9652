"""The tables (SQLModel models and their Core twin), migrations and ``crm init``."""
