"""The ontology domain: the aggregate, its commands, events, errors and draft edits (no I/O)."""
