"""labelops grpckit."""
