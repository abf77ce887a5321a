"""`ws` (async main, /ws), `syncWs` (sync_main, /ws-sync) and `shyWs` (shy, /ws-shy, never
accepts): WebSocket functions. Over plain HTTP `context.ws` is None."""


async def main(event, context):
    socket = context.ws
    if socket is None:
        return {"ws": None, "event": event}
    await socket.accept()
    await socket.send_json(
        {"event": event, "function": context.function_name, "url": context.httpContext.url}
    )
    async for message in socket:
        await socket.send(message)


def sync_main(event, context):
    socket = context.ws
    if socket is None:
        return {"ws": None}
    socket.accept()
    socket.send_json({"event": event, "function": context.function_name, "sync": True})
    for message in socket:
        socket.send(message)


async def shy(event, context):
    return None
