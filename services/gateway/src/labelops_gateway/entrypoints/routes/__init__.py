"""The JSON routes, one module per resource; each route is a single gRPC call (proto ↔ JSON
only, no decisions). ``http_api.build_router`` puts them under ``/v1``."""
