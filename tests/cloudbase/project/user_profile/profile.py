"""`userProfile` at /api/user/profile (a custom `source`): longer than `user`'s /api/user."""


def main(event, context):
    return {"function": "userProfile", "path": context.httpContext.url}
