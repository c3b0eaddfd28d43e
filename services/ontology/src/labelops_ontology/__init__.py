"""labelops ontology service."""
