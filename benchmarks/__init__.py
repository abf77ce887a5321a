"""Benchmarks of pagesfn against its peers: ``python -m benchmarks`` runs them all in one
sitting (``--quick`` for a smoke run, ``--only NAME`` for some of them, ``--report docs``
to write ``docs/benchmarks.md`` with its charts, see :mod:`benchmarks.document`).

In-process parts call the apps directly, on one event loop, with no server and no network,
through the single timing loop in :mod:`benchmarks.timing` (WSGI apps through its WSGI
twin); over-HTTP parts serve them on loopback through :mod:`benchmarks.serving`:

* ``dispatch``: the per-request cost of the full app for trees of 10 to 10,000 routes,
  against Starlette apps with the same routes (pagesfn's routing must not grow with the
  tree);
* ``handler``: a plain async handler served by pagesfn, by the equivalent Starlette route
  and by a bare ASGI callable, measured in the same run, in-process and under uvicorn with
  wrk as the load;
* ``mounts``: Flask and FastAPI apps mounted by catch-all route files, against Starlette
  with a2wsgi (and asgiref's ``WsgiToAsgi``) and against each app served alone,
  in-process and under uvicorn and gunicorn with wrk as the load;
* ``static``: files from ``public/`` against Starlette's ``StaticFiles`` (and werkzeug's
  ``SharedDataMiddleware`` on the WSGI face);
* ``startup``: start-up time against tree size, from a fresh interpreter to an app ready
  to serve: ``Pages(tree)``, lazy and eager, against Starlette importing the same number
  of endpoint modules; and the time from ``pagesfn dev`` to its first response;
* ``kv``: KV bindings against raw ``sqlite3`` and redis-py doing the same work;
* ``websocket``: echo round trips through ``on_websocket`` against a Starlette
  ``WebSocketRoute``, both under uvicorn, the client in another process;
* ``load``: ``pagesfn serve`` with 1 and 2 workers under 1,000 connections of ``wrk``
  rotating through a handler, mounted Flask and FastAPI apps, a static file and KV writes
  and reads, every response checked, and the server's memory before and after.
"""
