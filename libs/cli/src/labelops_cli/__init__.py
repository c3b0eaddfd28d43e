"""The labelops command line (typer + rich)."""
