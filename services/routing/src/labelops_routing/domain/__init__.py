"""Pure routing domain: rules and routing with capacity, overlap and gold draws, the task and
lease state machines, who may work which pool and lease, config checks.

Nothing here does I/O or imports protobuf; the application layer converts wire messages to
these types and the adapters persist what the functions decide.
"""
