"""labelops HTTP gateway: HTTP/JSON and Server-Sent Events over the gRPC services."""
