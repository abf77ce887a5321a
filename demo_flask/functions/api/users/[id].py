async def on_request_get(context):
    return {"id": context.params["id"], "request_id": context.uuid}


async def on_request_put(context):
    changes = await context.request.json()
    return {"id": context.params["id"], "updated": changes}
