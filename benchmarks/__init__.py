"""In-process benchmarks of pagesfn: ``python -m benchmarks`` (``--quick`` for a smoke run).

Every benchmark calls ASGI applications directly, on one event loop, with no server and
no network, through the single timing loop in :mod:`benchmarks.timing`:

* ``dispatch``: the per-request cost of the full app for a tree of 10 routes against a
  tree of 10,000 routes (routing must not grow with the tree);
* ``handler``: a plain async handler served by pagesfn, by the equivalent Starlette route
  and by a bare ASGI callable, measured in the same run.
"""
