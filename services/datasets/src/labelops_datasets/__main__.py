"""``python -m labelops_datasets``: see ``entrypoints/__main__.py``."""

from labelops_datasets.entrypoints.__main__ import main

main()
