import itertools

_visits = itertools.count(1)


def on_request_get(context):
    return {"visitCount": next(_visits)}
