"""`/api/room`: who is in the chat, and how many tickers are streaming, as JSON."""

from __future__ import annotations

from .._live import room, tickers


async def on_request_get(context):
    # async: it runs on the event loop the chat and the tickers change these on.
    return {"online": len(room), "names": room.names(), "tickers": tickers.open}
