"""The default function: no route of its own, so it answers `/` and what nothing else does."""


def main(event, context):
    return {
        "function": "default",
        "message": "Hello from default function",
        "path": context.httpContext.url,
    }
