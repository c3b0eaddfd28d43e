"""``python -m labelops_prelabel``: see ``entrypoints/__main__.py``."""

from labelops_prelabel.entrypoints.__main__ import main

main()
