"""Pure QA math: consensus, agreement, annotator quality, label errors (no I/O)."""
