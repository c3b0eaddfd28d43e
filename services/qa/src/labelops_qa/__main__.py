"""``python -m labelops_qa``: see ``entrypoints/__main__.py``."""

from labelops_qa.entrypoints.__main__ import main

main()
