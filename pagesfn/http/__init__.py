"""Sans-IO values: the request and response, the response head check, what a handler's
return value becomes, event streams. Nothing here reads or writes a protocol."""
