"""labelops bus."""
