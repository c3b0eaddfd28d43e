"""labelops telemetry."""
