"""The command groups of ``labelops`` (one module each)."""
