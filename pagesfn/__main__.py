"""``python -m pagesfn``: the ``pagesfn`` command."""

from .serving.cli import main

main(prog_name="pagesfn")
