"""Requests no well-behaved client sends: raw bytes, any headers, bodies of any size."""

from __future__ import annotations

import hashlib
import hmac
import json
import select
import socket
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode, urlparse

from tests.fakes.slack_requests import Reply

ZERO_SIGNATURE = "v0=" + "0" * 64


def signature(secret: str, body: bytes, timestamp: str) -> dict[str, str]:
    """Slack's two headers for `body` (any bytes), signed with `secret` at `timestamp`."""
    signed = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return {"x-slack-request-timestamp": timestamp, "x-slack-signature": f"v0={signed.hexdigest()}"}


def post(base_url: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
    request = urllib.request.Request(base_url + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, response.read().decode(errors="replace"))
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read().decode(errors="replace"))


def form(**fields: Any) -> bytes:
    return urlencode(fields).encode()


def interaction(payload: dict[str, Any]) -> bytes:
    return form(payload=json.dumps(payload))


def event(team_id: str, event: dict[str, Any], event_id: str) -> bytes:
    return json.dumps(
        {
            "token": "unused",
            "team_id": team_id,
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": team_id, "user_id": "UBOT0001", "is_bot": True}],
            "event": event,
        }
    ).encode()


def chunked(
    base_url: str, path: str, total: int, headers: dict[str, str], chunk: int = 64 * 1024
) -> tuple[int | None, int]:
    """POST `total` bytes with `transfer-encoding: chunked`, stopping as soon as the server
    answers (or closes): the status (None when there was no answer) and the bytes sent."""
    url = urlparse(base_url)
    lines = [f"POST {path} HTTP/1.1", f"host: {url.hostname}", "transfer-encoding: chunked"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    sent = 0
    with socket.create_connection((url.hostname, url.port), timeout=30) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        piece = f"{chunk:x}\r\n".encode() + b"[" * chunk + b"\r\n"
        try:
            while sent < total:
                if select.select([connection], [], [], 0)[0]:
                    break  # the server answered before the end of the body
                connection.sendall(piece)
                sent += chunk
            else:
                connection.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server closed the connection: read what it said
        try:
            answer = connection.recv(4096).decode(errors="replace")
        except OSError:
            return None, sent
    status = answer.split(" ", 2)[1] if answer.startswith("HTTP/1.1 ") else ""
    return (int(status) if status.isdigit() else None), sent
