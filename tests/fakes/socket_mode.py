"""A local Socket Mode server: what Slack's WebSocket endpoint does for a Socket Mode app.

On connection it says hello; `deliver(type, payload)` sends an envelope and returns the
app's acknowledgement of it (with the response payload, if the app gave one).
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from typing import Any

from websockets.sync.server import Server, ServerConnection, serve


class FakeSocketMode:
    def __init__(self) -> None:
        self._connections: queue.Queue[ServerConnection] = queue.Queue()
        self._acks: dict[str, queue.Queue[dict[str, Any]]] = {}
        self._server: Server = serve(self._handle, "127.0.0.1", 0, compression=None)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._connection: ServerConnection | None = None

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket=test"

    def __enter__(self) -> FakeSocketMode:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    def _handle(self, connection: ServerConnection) -> None:
        connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "connection_info": {"app_id": "A0001"},
                    "debug_info": {"host": "fake", "approximate_connection_time": 3600},
                }
            )
        )
        self._connections.put(connection)
        for message in connection:
            ack = json.loads(message)
            waiting = self._acks.get(ack.get("envelope_id", ""))
            if waiting is not None:
                waiting.put(ack)

    def wait_connected(self, timeout: float = 10) -> None:
        self._connection = self._connections.get(timeout=timeout)

    def deliver(self, kind: str, payload: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        """Send an envelope of `kind` (slash_commands, events_api, interactive); the app's ack."""
        assert self._connection is not None, "no app connected"
        envelope_id = str(uuid.uuid4())
        self._acks[envelope_id] = queue.Queue()
        self._connection.send(
            json.dumps(
                {
                    "envelope_id": envelope_id,
                    "type": kind,
                    "payload": payload,
                    "accepts_response_payload": kind != "events_api",
                    "retry_attempt": 0,
                    "retry_reason": "",
                }
            )
        )
        return self._acks[envelope_id].get(timeout=timeout)
