"""`order` at /api/order: an async main."""

import asyncio


async def main(event, context):
    await asyncio.sleep(0)
    return {"function": "order", "message": "Order API", "path": context.httpContext.url}
