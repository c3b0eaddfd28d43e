"""Ways into the service: the gRPC API and the process entry point."""
