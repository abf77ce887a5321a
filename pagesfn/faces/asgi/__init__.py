"""The ASGI face: what :class:`~pagesfn.Pages` is when a server awaits it."""
