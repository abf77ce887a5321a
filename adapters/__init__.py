"""The adapter layer, installed as ``pagesfn.adapters``.

It detects what a route module exports, rewrites paths for mounted apps and bridges
WSGI and ASGI. Mounting arrives with the adapter layer's own modules.
"""
