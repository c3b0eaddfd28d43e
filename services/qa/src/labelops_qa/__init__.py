"""labelops QA / consensus service."""
