"""``python -m pagesfn``: the ``pagesfn`` command."""

from .cli import main

main(prog_name="pagesfn")
