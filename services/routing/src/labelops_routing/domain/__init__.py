"""Pure routing domain: rules, overlap sampling, task/assignment state machines, config checks.

Nothing here does I/O or imports protobuf; the application layer converts wire messages to
these types and persists what the functions decide.
"""
