"""Postgres adapters: the event-store repository and the read models."""
