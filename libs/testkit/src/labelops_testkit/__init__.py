"""labelops testkit."""
