"""What a request goes through, whichever face it came in by: its lifecycle, routing, the
handler chain, failures, limits, static files, the origin, the WebSocket API."""
