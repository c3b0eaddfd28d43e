"""``python -m labelops_curation``: see ``entrypoints/__main__.py``."""

from labelops_curation.entrypoints.__main__ import main

main()
