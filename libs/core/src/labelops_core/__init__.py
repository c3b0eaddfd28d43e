"""Shared, I/O-free building blocks: domain errors, ids, request context."""
