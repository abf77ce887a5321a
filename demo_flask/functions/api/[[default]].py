def on_request(context):
    return {"method": context.request.method, "rest": context.params["default"]}, 404
