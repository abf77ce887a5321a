"""The WebSocket protocol ``pagesfn dev`` and ``pagesfn serve`` run uvicorn with.

It is uvicorn's own (``websockets-sansio``) with two changes:

- when the server shuts down, open connections are closed with 1001 ("going away"), the
  code a client should take as "come back later", where uvicorn sends 1012;
- a handshake refused with an HTTP response (the ``websocket.http.response`` extension,
  how pagesfn refuses one) is not also logged as an error (uvicorn issue #3138).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from .websocket import GOING_AWAY


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def shutdown(self) -> None:
        if self.handshake_complete and not self.close_sent and not self.transport.is_closing():
            self.stop_keepalive()
            self.queue.put_nowait({"type": "websocket.disconnect", "code": GOING_AWAY})
            self.conn.send_close(GOING_AWAY, "server shutting down")
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
        super().shutdown()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            self.handshake_complete = True  # answered, with the refusal
