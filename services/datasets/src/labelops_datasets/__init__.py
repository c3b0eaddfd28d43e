"""labelops datasets service: immutable dataset versions projected from the event log."""
