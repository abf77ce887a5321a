"""The WSGI face: ``pages.wsgi``, the same tree as a PEP 3333 application."""
