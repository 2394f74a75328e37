"""A fake Slack Web API on 127.0.0.1: answers like Slack and records every call.

The real slack_sdk WebClient talks to it over HTTP (SLACK_API_URL). Besides the Web API
methods it serves response URLs (`/respond/<id>`), so that what a command's ephemeral
answers say can be read back. It can answer a method with 429 and Retry-After, or with a
500, a given number of times. `python -m tests.fakes.slack_api` runs it in a process of its
own and prints its URL; GET /_fake/calls then lists what it recorded.

Files are uploaded as Slack's files_upload_v2 does: files.getUploadURLExternal answers an
upload URL on this same server, the client POSTs the bytes there (recorded as the method
"upload"), and files.completeUploadExternal shares the file in a channel or a thread, where
conversations.replies shows it as a message with `files`. `uploads` keeps each shared file.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

BOT_USER = "UBOT0001"
# Every call recorded so far, as JSON, for a client in another process (the benchmark).
CALLS_PATH = "/_fake/calls"
# Where files.getUploadURLExternal sends a file's bytes: UPLOAD_PATH + its file id.
UPLOAD_PATH = "/_fake/upload/"


@dataclass
class Call:
    """One request the app made: a Web API method or a response-URL post."""

    method: str
    args: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class Upload:
    """A file as files_upload_v2 sent it: its name and bytes, then where it was shared."""

    file_id: str
    filename: str
    length: int
    data: bytes | None = None
    channel: str | None = None
    thread_ts: str | None = None
    title: str | None = None


@dataclass
class Failure:
    status: int
    times: int
    retry_after: int | None = None


class FakeSlack:
    """Start with `with FakeSlack() as slack:`; `slack.api_url` is the Web API base URL."""

    def __init__(self, team_id: str = "T0001", team_name: str = "Acme") -> None:
        self.team_id, self.team_name = team_id, team_name
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.socket_url: str | None = None
        self.installation: dict[str, Any] | None = None
        # Seconds a response URL takes to answer (a Slack far away).
        self.response_delay = 0.0
        # Response URLs Slack no longer honours (30 minutes old, or used five times): a post
        # to one is answered 404 `expired_url`, as Slack does.
        self.expired: set[str] = set()
        # Seconds each Web API method takes to answer (a slow Slack).
        self.api_delay = 0.0
        # Messages posted, by channel (replies carry thread_ts), for the history methods.
        self.messages: dict[str, list[dict[str, Any]]] = {}
        # An error the history methods answer (e.g. "missing_scope"), when set.
        self.history_error: str | None = None
        # Channels the bot is not in: posting and reading there answer not_in_channel
        # until `invite`.
        self.outside: set[str] = set()
        # Files by id, from files.getUploadURLExternal on; `uploads` lists the shared ones.
        self.files: dict[str, Upload] = {}
        self._failures: dict[str, Failure] = {}
        self._lock = threading.Condition()
        self._ts = itertools.count(1)
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # A short poll, so that shutting down takes milliseconds rather than half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str) -> str:
        return f"{self.url}/respond/{name}"

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(
        self, method: str, status: int, times: int = 1, retry_after: int | None = None
    ) -> None:
        """Answer the next `times` calls of `method` with `status` (429 with Retry-After)."""
        with self._lock:
            self._failures[method] = Failure(status, times, retry_after)

    def invite(self, channel: str) -> None:
        """The bot is invited to the channel: it may post and read there from now on."""
        with self._lock:
            self.outside.discard(channel)

    @property
    def uploads(self) -> list[Upload]:
        """The files shared in a channel or thread (files.completeUploadExternal), in order."""
        with self._lock:
            return [f for f in self.files.values() if f.channel is not None]

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """The calls to `method` once there are at least `count` of them (or fail the test)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [
                    c for c in self.calls if c.method == method and (where is None or where(c))
                ]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({c.method for c in self.calls})
                    raise AssertionError(f"{count} x {method} not seen within {timeout}s; {seen}")
                self._lock.wait(left)

    def responses(self, name: str) -> list[dict[str, Any]]:
        return [c.args for c in self.calls_to(f"respond/{name}")]

    def _record(self, call: Call) -> Failure | None:
        with self._lock:
            failure = self._failures.get(call.method)
            if failure is not None and failure.times > 0:
                failure.times -= 1
                call.args = {**call.args, "_failed": failure.status}
            self.calls.append(call)
            self._lock.notify_all()
            return failure if failure is not None and "_failed" in call.args else None

    def answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """What Slack would answer."""
        if method in _IN_CHANNEL and str(args.get("channel")) in self.outside:
            return {"ok": False, "error": "not_in_channel"}
        if method in ("conversations.history", "conversations.replies"):
            return self._read(method, args)  # reads take no ts
        ts = f"1700000000.{next(self._ts):06d}"
        if method == "auth.test":
            return {
                "ok": True,
                "team_id": self.team_id,
                "team": self.team_name,
                "user_id": BOT_USER,
                "bot_id": "BBOT0001",
                "url": "https://acme.slack.com/",
            }
        if method == "chat.postMessage":
            # As conversations.replies shows it: the bot's own message, its blocks.
            message = {"text": args.get("text"), "ts": ts, "user": BOT_USER}
            # Slack gives a message posted as text alone a rich_text block of that text.
            text = {"type": "text", "text": str(args.get("text") or "")}
            section = {"type": "rich_text_section", "elements": [text]}
            written = [{"type": "rich_text", "elements": [section]}]
            message["blocks"] = _json(args["blocks"]) if args.get("blocks") else written
            if args.get("thread_ts"):
                message["thread_ts"] = args["thread_ts"]
            if args.get("metadata"):
                message["metadata"] = _json(args["metadata"])
            with self._lock:
                self.messages.setdefault(str(args.get("channel")), []).append(message)
            return {"ok": True, "channel": args.get("channel"), "ts": ts, "message": message}

        if method == "chat.update":
            return self._update(args)
        if method == "files.getUploadURLExternal":
            return self._upload_url(args)
        if method == "files.completeUploadExternal":
            return self._complete_upload(args, ts)
        if method.startswith("assistant.threads."):
            # setStatus, setSuggestedPrompts, setTitle: recorded, nothing to answer.
            return {"ok": True}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method in ("views.open", "views.publish", "views.update"):
            return {"ok": True, "view": {"id": "V0001", **(_json(args.get("view")) or {})}}
        if method == "users.info":
            user = self.users.get(str(args.get("user")), {})
            # Slack names the user's own workspace: this one, unless the test says otherwise.
            own = {"id": args.get("user"), "name": "someone", "team_id": self.team_id}
            return {"ok": True, "user": {**own, **user}}
        if method == "chat.getPermalink":
            return {
                "ok": True,
                "permalink": f"https://acme.slack.com/archives/{args.get('channel')}/p{args.get('message_ts')}",
            }
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket_url}
        if method == "oauth.v2.access" and self.installation is not None:
            return {"ok": True, **self.installation}
        return {"ok": False, "error": "unknown_method"}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        """chat.update of a posted message: its text, blocks and metadata replaced."""
        with self._lock:
            for message in self.messages.get(str(args.get("channel")), []):
                if message["ts"] == args.get("ts"):
                    for key in ("text", "blocks", "metadata"):
                        if args.get(key) is not None:
                            message[key] = _json(args[key]) if key != "text" else args[key]
                    break
        # A message the fake never saw posted (a test's own) is taken as updated too.
        return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}

    def _upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length") or "").isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            file_id = f"F{len(self.files) + 1:07d}"
            self.files[file_id] = Upload(file_id, str(args["filename"]), int(args["length"]))
        return {"ok": True, "upload_url": f"{self.url}{UPLOAD_PATH}{file_id}", "file_id": file_id}

    def receive_upload(self, file_id: str, data: bytes) -> bool:
        """The bytes POSTed to a file's upload URL; False for an unknown file."""
        with self._lock:
            upload = self.files.get(file_id)
            if upload is None:
                return False
            upload.data = data
            return True

    def _complete_upload(self, args: dict[str, Any], ts: str) -> dict[str, Any]:
        """Share uploaded files in `channel_id` (in `thread_ts`'s thread when given)."""
        channel = str(args.get("channel_id") or "")
        if channel in self.outside:
            return {"ok": False, "error": "not_in_channel"}
        listed = _json(args.get("files")) or []
        with self._lock:
            uploads = [self.files.get(str(f.get("id"))) for f in listed]
            if not uploads or any(u is None or u.data is None for u in uploads):
                return {"ok": False, "error": "file_not_found"}
            shared = []
            for upload, given in zip(uploads, listed, strict=True):
                assert upload is not None
                upload.channel, upload.thread_ts = channel, args.get("thread_ts") or None
                upload.title = given.get("title") or upload.filename
                shared.append(
                    {"id": upload.file_id, "name": upload.filename, "title": upload.title}
                )
            if channel:
                # As conversations.replies shows it: the bot's message sharing the files.
                message: dict[str, Any] = {"ts": ts, "user": BOT_USER, "files": shared}
                if args.get("thread_ts"):
                    message["thread_ts"] = args["thread_ts"]
                self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "files": shared}

    def _read(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """A channel's top-level messages, newest first, or one thread's, oldest first. (The
        fake's ts are not times: `oldest` is not applied.)"""
        if self.history_error:
            return {"ok": False, "error": self.history_error}
        with self._lock:
            posted = list(self.messages.get(str(args.get("channel")), []))
        if method == "conversations.history":
            found = [m for m in reversed(posted) if "thread_ts" not in m]
        else:
            ts = str(args.get("ts"))
            found = [m for m in posted if m["ts"] == ts or m.get("thread_ts") == ts]
        limit = int(args.get("limit") or 100)
        return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes: without this, Nagle's algorithm holds the
            # body back for the client's delayed ACK (40 ms) on a kept-alive connection.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                url = urlparse(self.path)
                if url.path == CALLS_PATH:
                    with fake._lock:
                        calls = [
                            {"method": c.method, "args": c.args, "at": c.at} for c in fake.calls
                        ]
                    self._send(200, calls)
                    return
                length = int(self.headers.get("content-length") or 0)
                if url.path.startswith(UPLOAD_PATH):
                    self._upload(url.path.removeprefix(UPLOAD_PATH), self.rfile.read(length))
                    return
                raw = self.rfile.read(length).decode() if length else ""
                args: dict[str, Any] = dict(parse_qsl(url.query))
                if "json" in (self.headers.get("content-type") or ""):
                    args.update(json.loads(raw or "{}"))
                elif raw:
                    args.update(parse_qsl(raw))
                auth = self.headers.get("authorization") or ""
                token = auth.removeprefix("Bearer ") or args.get("token")
                path = url.path
                method = (
                    path.removeprefix("/api/") if path.startswith("/api/") else path.lstrip("/")
                )
                failure = fake._record(Call(method, args, token))
                if failure is not None:
                    headers = (
                        {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
                    )
                    self._send(failure.status, {"ok": False, "error": "ratelimited"}, headers)
                elif method.startswith("respond/"):
                    time.sleep(fake.response_delay)
                    if method.removeprefix("respond/") in fake.expired:
                        self._send(404, {"ok": False, "error": "expired_url"})
                    else:
                        self._send(200, None)
                else:
                    time.sleep(fake.api_delay)
                    self._send(200, fake.answer(method, args))

            def _upload(self, file_id: str, data: bytes) -> None:
                """A file's bytes at its upload URL (answered "OK", as Slack does)."""
                failure = fake._record(
                    Call("upload", {"file_id": file_id, "bytes": len(data)}, None)
                )
                if failure is not None:
                    self._send(failure.status, {"ok": False, "error": "upload_failed"})
                elif not fake.receive_upload(file_id, data):
                    self._send(404, {"ok": False, "error": "file_not_found"})
                else:
                    self._send(200, None)

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = b"ok" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header(
                    "content-type", "text/plain" if body is None else "application/json"
                )
                self.send_header("content-length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


# The methods that need the bot in the channel.
_IN_CHANNEL = frozenset({"chat.postMessage", "conversations.history", "conversations.replies"})


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


class _Server(ThreadingHTTPServer):
    """The fake's HTTP server, quiet when a client hangs up before its answer (a test that
    kills a process mid-request): Slack does not complain about that either."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def serve() -> None:
    """Run the fake in its own process (the benchmark does, to keep it off its GIL)."""
    with FakeSlack() as fake:
        print(fake.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    serve()
