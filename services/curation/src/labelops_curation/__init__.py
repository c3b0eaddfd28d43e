"""labelops curation service."""
