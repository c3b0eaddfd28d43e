"""``python -m labelops_routing``: see ``entrypoints/__main__.py``."""

from labelops_routing.entrypoints.__main__ import main

main()
