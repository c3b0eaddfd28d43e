"""``python -m labelops_ontology``: see ``entrypoints/__main__.py``."""

from labelops_ontology.entrypoints.__main__ import main

main()
