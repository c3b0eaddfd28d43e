"""Use cases: command handlers (write path) and queries (read path)."""
