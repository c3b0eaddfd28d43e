"""labelops eventstore."""
