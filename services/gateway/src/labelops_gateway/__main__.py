"""``python -m labelops_gateway``: see ``entrypoints/__main__.py``."""

from labelops_gateway.entrypoints.__main__ import main

main()
