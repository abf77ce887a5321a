"""Serving a project: the ``pagesfn`` command, the server, its configuration, the request
log, the worker supervisor, ``pagesfn init`` and the AWS Lambda entry point."""
