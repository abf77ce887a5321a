"""`ws://.../chat?name=Ann`: a chat room over a WebSocket.

Every message is JSON with a `type`:

- to the newcomer: `{"type": "history", "messages": [...]}`, the last few messages;
- to everyone: `join` and `leave` (`name`, `online`, `time`), and `message` (`name`,
  `text`, `time`: the server's clock, ISO 8601 UTC);
- to a sender whose message was not valid: `{"type": "error", "error": "..."}`.

Clients send `{"name": "Ann", "text": "hello"}`; the name may change from one message to
the next (the room then knows the member by the new one).
"""

from __future__ import annotations

import json
from typing import Any

from ._live import now, room

MAX_NAME = 32
MAX_TEXT = 500
EXAMPLE = '{"name": "Ann", "text": "hello"}'


async def on_websocket(socket):
    name = clean_name(socket.context.request.args.get("name")) or "guest"
    await socket.accept()
    room.join(socket, name)
    try:
        await socket.send_json({"type": "history", "messages": list(room.history)})
        await room.broadcast({"type": "join", "name": name, "online": len(room), "time": now()})
        async for raw in socket:  # ends when the client goes away
            try:
                name, text = parse_message(raw)
            except ValueError as exc:
                await socket.send_json({"type": "error", "error": str(exc), "time": now()})
                continue
            room.join(socket, name)
            message = {"type": "message", "name": name, "text": text, "time": now()}
            room.history.append(message)
            await room.broadcast(message)
    finally:
        gone = room.leave(socket) or name
        await room.broadcast({"type": "leave", "name": gone, "online": len(room), "time": now()})


def clean_name(value: Any) -> str | None:
    """``value`` as a display name (trimmed, one line, not too long), or ``None``."""
    if not isinstance(value, str):
        return None
    name = " ".join(value.split())
    return name[:MAX_NAME] or None


def parse_message(raw: str | bytes) -> tuple[str, str]:
    """The name and text of a client's message; ``ValueError`` saying what is wrong."""
    if isinstance(raw, bytes):
        raise ValueError(f"send text, not binary: a JSON object like {EXAMPLE}")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        raise ValueError(f"that is not JSON; send an object like {EXAMPLE}") from None
    if not isinstance(data, dict):
        raise ValueError(f"send a JSON object like {EXAMPLE}, not {type(data).__name__}")
    name = clean_name(data.get("name"))
    if name is None:
        raise ValueError('"name" must be a non-empty string')
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError('"text" must be a non-empty string')
    if len(text) > MAX_TEXT:
        raise ValueError(f'"text" is {len(text)} characters; the limit is {MAX_TEXT}')
    return name, text.strip()
