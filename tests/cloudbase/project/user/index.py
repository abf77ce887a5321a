"""`user`: /api/user (triggerPath, and again in routes), /v1/user and /v2/user."""


def main(event, context):
    return {
        "function": "user",
        "message": "User API",
        "path": context.httpContext.url,
        "method": context.httpContext.httpMethod,
    }
