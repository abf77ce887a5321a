"""``/api/health``: a plain route file beside the mounted app, answered by pagesfn itself."""


def on_request_get(context):
    return {"status": "ok", "served_by": context.function_path}
