"""``python -m labelops_cli``: the same as the ``labelops`` console script."""

from labelops_cli.main import main

main()
