"""``python -m gridcarbon.cli``: the same as the ``gridcarbon`` command."""

from gridcarbon.cli import main

main()
