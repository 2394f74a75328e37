"""A fake Anthropic Messages API on 127.0.0.1 for the real `anthropic` SDK to talk to.

Point the SDK at it with `base_url=fake.url` (or ANTHROPIC_BASE_URL). Replies come from a
script (first in, first out) and, when the script is empty, from a responder function of
the request. A reply can be a message (text and tool_use blocks), an error status (429
with retry-after, 529, 500), a malformed 200 (invalid JSON, an HTML page, an object that is
not a message) or a response that never comes (the client must time out). Each request
records when it arrived and when it ended: answered, or abandoned by the client. Usage is
reported as the API reports it, prompt caching included (PromptCache), and cache
breakpoints the API would refuse (more than 4, a 1-hour one after a 5-minute one) get its 400.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One HTTP answer: a status, a JSON body, headers; optionally late or never."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False
    # Sent as is instead of the JSON body (a malformed answer), with this content type.
    raw: bytes | None = None
    content_type: str = "application/json"


@dataclass
class Request:
    """What the fake received: the JSON body, the headers, when it came and when it ended
    (answered, or the client hung up first: then `abandoned`)."""

    body: dict[str, Any]
    headers: dict[str, str]
    at: float
    ended_at: float | None = None
    abandoned: bool = False
    # The usage the fake answered with (a 200 message only).
    usage: dict[str, Any] | None = None

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        last = self.body["messages"][-1]
        content = last["content"] if isinstance(last["content"], list) else []
        return [block for block in content if block.get("type") == "tool_result"]

    @property
    def prompt(self) -> str:
        """The text of the first user message (the task and its data sections)."""
        first = self.body["messages"][0]["content"]
        if isinstance(first, str):
            return first
        return "\n".join(block.get("text", "") for block in first if block.get("type") == "text")

    @property
    def system_text(self) -> str:
        system = self.body.get("system", "")
        if isinstance(system, str):
            return system
        return "\n".join(block.get("text", "") for block in system)


_ids = itertools.count(1)

# Token counts are an approximation, documented as such: about 4 characters a token (of the
# JSON the request carries, tool schemas included). Real tokenizers count more for the same
# text (Claude Sonnet 5's about 30% more), so a prefix the fake finds long enough to cache
# is long enough for the real API too. The backend never estimates: it reads `usage`.
CHARS_PER_TOKEN = 4

# The shortest prefix the API caches, by model family (longest matching id prefix wins), as
# read on 2026-12-01: 512 tokens for Opus 5, Fable 5 and Mythos 5; 1,024 for Sonnet 5,
# Opus 4.8, Sonnet 4.x and Opus 4/4.1; 2,048 for Opus 4.7; 4,096 for Opus 4.5/4.6 and
# Haiku 4.5. Models of a family not listed take their family's (claude-sonnet-5-5: 1,024);
# Haiku 5.5 is assumed like Haiku 4.5. A shorter prefix is silently not cached.
MIN_CACHEABLE = {
    "claude-opus-5": 512,
    "claude-fable-5": 512,
    "claude-mythos-5": 512,
    "claude-sonnet-5": 1024,
    "claude-opus-4-8": 1024,
    "claude-opus-4-7": 2048,
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-sonnet-4": 1024,
    "claude-opus-4": 1024,
    "claude-haiku-5": 4096,
    "claude-haiku-4-5": 4096,
}
DEFAULT_MIN_CACHEABLE = 1024
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


def tokens(text_: str) -> int:
    return len(text_) // CHARS_PER_TOKEN


def min_cacheable(model: str) -> int:
    family = max((m for m in MIN_CACHEABLE if model.startswith(m)), key=len, default=None)
    return MIN_CACHEABLE[family] if family else DEFAULT_MIN_CACHEABLE


# The API's limits on breakpoints: at most 4 per request; a breakpoint finds an entry written
# at its own block or at most this many blocks before it; longer TTLs before shorter ones.
MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20


class PromptCache:
    """The API's prompt cache, as its documentation describes it, simplified.

    A request is read in the API's order: tools, then system blocks, then the messages'
    content blocks. A block with `cache_control` is a breakpoint: the prefix up to and with it
    can be cached, per model, when it is at least the model's minimum length. Each breakpoint
    looks for a live entry at its block or up to LOOKBACK_BLOCKS blocks before it (so a
    conversation's breakpoint, moved to its new end, finds the entry the previous call wrote
    at the old end); the latest entry found is read, and its lifetime starts again; the
    breakpoints after it are written, each for its own TTL ("5m" by default, or "1h").
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, str]] = {}  # key: (expires, ttl)

    def use(self, body: dict[str, Any], now: float) -> tuple[int, dict[str, int]]:
        """Cache tokens read, and written per TTL, by this request."""
        prefixes, breakpoints = _prefixes(body)
        written = {"5m": 0, "1h": 0}
        with self._lock:
            alive = [
                at
                for index, _ in breakpoints
                for at in range(index, max(-1, index - LOOKBACK_BLOCKS - 1), -1)
                if self._entries.get(prefixes[at][0], (0.0, ""))[0] > now
            ]
            hit = max(alive, default=-1)
            read = 0
            if hit >= 0:
                key, read = prefixes[hit]
                ttl = self._entries[key][1]
                self._entries[key] = (now + TTL_SECONDS[ttl], ttl)
            covered = read
            for index, ttl in breakpoints:
                key, length = prefixes[index]
                if index <= hit or length < min_cacheable(str(body.get("model", ""))):
                    continue  # already read, or too short: silently not cached
                written[ttl] += length - covered
                covered = length
                self._entries[key] = (now + TTL_SECONDS[ttl], ttl)
        return read, written


def _prefixes(body: dict[str, Any]) -> tuple[list[tuple[str, int]], list[tuple[int, str]]]:
    """Each block's prefix (cache key, length in tokens) in prompt order, and the breakpoints
    (block index, TTL)."""
    blocks = _blocks(body)
    digest = hashlib.sha256(str(body.get("model", "")).encode())
    prefixes, breakpoints, length = [], [], 0
    for index, block in enumerate(blocks):
        control = block.get("cache_control")
        bare = {k: v for k, v in block.items() if k != "cache_control"}
        serialized = json.dumps(bare, sort_keys=True)
        digest.update(serialized.encode())
        length += tokens(serialized)
        prefixes.append((digest.copy().hexdigest(), length))
        if control:
            breakpoints.append((index, control.get("ttl", "5m")))
    return prefixes, breakpoints


def _blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    system = body.get("system") or []
    blocks: list[dict[str, Any]] = [*body.get("tools", [])]
    blocks += [{"type": "text", "text": system}] if isinstance(system, str) else list(system)
    for turn in body.get("messages", []):
        content = turn["content"]
        blocks += [{"type": "text", "text": content}] if isinstance(content, str) else content
    return blocks


def breakpoint_problem(body: dict[str, Any]) -> str | None:
    """Why the API would refuse the request's cache breakpoints (a 400), or None."""
    ttls = [b["cache_control"].get("ttl", "5m") for b in _blocks(body) if b.get("cache_control")]
    if len(ttls) > MAX_BREAKPOINTS:
        return f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided."
    if any(ttls[i] == "5m" and "1h" in ttls[i + 1 :] for i in range(len(ttls))):
        return "a ttl='1h' cache_control block must not come after a ttl='5m' one"
    return None


def tool_use(name: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": f"toolu_{next(_ids):06d}", "name": name, "input": arguments}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def message(*content: dict[str, Any], stop_reason: str | None = None, delay: float = 0.0) -> Reply:
    """A successful Messages API answer; stop_reason follows from the content by default."""
    uses_tools = any(block["type"] == "tool_use" for block in content)
    body = {
        "type": "message",
        "role": "assistant",
        "content": list(content),
        "stop_reason": stop_reason or ("tool_use" if uses_tools else "end_turn"),
        "stop_sequence": None,
    }
    return Reply(200, body, delay=delay)


def finish(summary: str = "Worked the task.", *actions: str) -> dict[str, Any]:
    return tool_use("finish_cycle", summary=summary, actions=list(actions))


def _error(status: int, kind: str, text_: str, headers: dict[str, str] | None = None) -> Reply:
    body = {"type": "error", "error": {"type": kind, "message": text_}}
    return Reply(status, body, headers or {})


def rate_limited(retry_after: str = "1") -> Reply:
    return _error(429, "rate_limit_error", "Rate limited", {"retry-after": retry_after})


def overloaded() -> Reply:
    return _error(529, "overloaded_error", "Overloaded")


def server_error() -> Reply:
    return _error(500, "api_error", "Internal server error")


def hanging() -> Reply:
    return Reply(hang=True)


def invalid_json() -> Reply:
    return Reply(200, raw=b'{"type": "message", "content": [', content_type="application/json")


def html_page() -> Reply:
    page = b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"
    return Reply(200, raw=page, content_type="text/html")


def not_a_message() -> Reply:
    return Reply(200, {"type": "completion", "completion": "Sure!", "stop_reason": "stop"})


def turn(request: Request) -> int:
    """Which call of its cycle the request is: 0 for the first (no answer in it yet)."""
    return sum(message["role"] == "assistant" for message in request.body["messages"])


def learn_then_finish(request: Request) -> Reply:
    """A cycle of two calls: a learning (stated the same way each cycle), then the report."""
    if turn(request) == 0:
        learning = "Prospects who answer within a day book meetings twice as often."
        return message(tool_use("record_learning", content=learning, importance=0.4))
    return message(finish("Recorded a learning.", "recorded a learning"))


def learn_and_finish(request: Request) -> Reply:
    """The default responder: one learning about the task, then the report."""
    task = request.prompt.split("\n", 1)[0][:200] or "the task"
    return message(
        tool_use("record_learning", content=f"Observed while working: {task}", importance=0.5),
        finish(f"Worked on {task}", "recorded a learning"),
    )


class FakeAnthropic:
    """The fake server. Use as a context manager; `url` is the SDK's base_url."""

    def __init__(
        self,
        responder: Callable[[Request], Reply] = learn_and_finish,
        *,
        latency: float = 0.0,
        hang_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.responder = responder
        self.latency = latency
        self.hang_seconds = hang_seconds
        self.requests: list[Request] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        # The fake's own clock for cache lifetimes: a test on a simulated clock passes its own.
        self.clock = clock
        self.cache = PromptCache()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, *replies: Reply) -> None:
        """Queue replies; they are used in order before the responder."""
        with self._lock:
            self._script.extend(replies)

    def settle(self, timeout: float = 5.0) -> None:
        """Wait (bounded) until every request received has ended: answered or abandoned."""
        until = time.monotonic() + timeout
        while time.monotonic() < until and any(r.ended_at is None for r in self.requests):
            time.sleep(0.01)

    def __enter__(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next_reply(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._script:
                return self._script.popleft()
        return self.responder(request)

    def _usage(self, request: Request, reply: Reply) -> dict[str, Any]:
        """Token counts in the API's shape, prompt caching included (see PromptCache)."""
        read, written = self.cache.use(request.body, self.clock())
        total = tokens(json.dumps(request.body))
        return {
            "input_tokens": max(1, total - read - sum(written.values())),
            "output_tokens": max(1, tokens(json.dumps(reply.body.get("content", [])))),
            "cache_creation_input_tokens": sum(written.values()),
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": written["5m"],
                "ephemeral_1h_input_tokens": written["1h"],
            },
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, Nagle's algorithm and the
            # client's delayed ACK add 40 ms to every answer.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/messages":
                    self._send(Reply(404, {"type": "error", "error": {"type": "not_found_error"}}))
                    return
                body = json.loads(raw or b"{}")
                request = Request(
                    body, {k.lower(): v for k, v in self.headers.items()}, time.time()
                )
                problem = breakpoint_problem(body)
                if problem is not None:
                    with fake._lock:
                        fake.requests.append(request)
                    self._send(_error(400, "invalid_request_error", problem))
                    request.ended_at = time.time()
                    return
                reply = fake._next_reply(request)
                pause = fake.hang_seconds if reply.hang else fake.latency + reply.delay
                waited = self._client_waits(pause) if pause else True
                if reply.hang or not waited:  # never answers, or the client left first
                    request.ended_at, request.abandoned = time.time(), not waited
                    self.close_connection = True
                    return
                if reply.raw is not None:
                    self._send(reply)
                    request.ended_at = time.time()
                    return
                if reply.status == 200:
                    request.usage = fake._usage(request, reply)
                    answer = {
                        "id": f"msg_{next(_ids):06d}",
                        "model": body.get("model", "unknown"),
                        **reply.body,
                        "usage": request.usage,
                    }
                    reply = Reply(200, answer, reply.headers)
                self._send(reply)
                request.ended_at = time.time()

            def _client_waits(self, seconds: float) -> bool:
                """Wait before answering; False when the client hung up (or the fake stops).
                A hang-up wakes the wait at once, so `ended_at` is when the client left."""
                end = time.monotonic() + seconds
                while (left := end - time.monotonic()) > 0 and not fake._stopping.is_set():
                    readable, _, _ = select.select([self.connection], [], [], min(left, 0.1))
                    if readable:
                        try:
                            if not self.connection.recv(1, socket.MSG_PEEK):
                                return False
                        except OSError:
                            return False
                return not fake._stopping.is_set()

            def _send(self, reply: Reply) -> None:
                payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type)
                self.send_header("content-length", str(len(payload)))
                self.send_header("request-id", f"req_{next(_ids):06d}")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def serve(argv: list[str] | None = None) -> None:
    """Run the fake in its own process (the benchmark does, to keep it off its GIL)."""
    import argparse

    parser = argparse.ArgumentParser(description="A fake Anthropic Messages API")
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args(argv)
    with FakeAnthropic(latency=args.latency) as fake:
        print(fake.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    serve()
