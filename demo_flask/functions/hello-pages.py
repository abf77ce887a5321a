def on_request(context):
    return "Hello from pagesfn!"
