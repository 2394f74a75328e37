"""How fast `salesbrain serve --http` acknowledges /coach under load, against Slack's 3 s,
and how long until the person sees the confirmation.

Starts `salesbrain serve --http` on a fresh SQLite database, or on the empty PostgreSQL
database given with --url (a real server process, as in production), its Web API and the
commands' response URLs on a fake Slack in a process of its own, then sends signed /coach
commands, 50 at a time, 2,000 in all, each with a note of its own. Reports, for the ack
(Slack's 3 s deadline) and for the confirmation (the moment the person sees "Stored block
N", which may come in the ack or later through the response URL): p50/p95/p99/max,
failures; the server's CPU time per request, until the last ack (what the acks shared) and
in all (with the storing and confirming after them); and whether every note was stored exactly
once and confirmed once with its own block. The baseline, measured in the same run and the
same way, is `/brain help`: the same signed request through Bolt's pipeline, answered in
its ack without a write (since branch i16-early a /coach from a person the server knows
skips that pipeline: it is acknowledged before Bolt's dispatch; the warm-up's /brain help
makes the bench's manager known).

The load generator is one asyncio loop over 50 keep-alive connections, requests signed
before the clock starts, so that its own cost stays small next to the server's.

    .venv/bin/python bench/slack_ack.py [--requests 2000] [--concurrency 50] [--workers 1]
                                        [--url postgresql://...empty database]

Since the intake (issue 16) each /coach is stored in the intake table inside its ack; the
benchmark also reports the commands left undone there at the end (0 when all went well).
Run from another checkout (PYTHONPATH=CHECKOUT .venv/bin/python CHECKOUT/bench/slack_ack.py)
it measures that checkout's server, for a before/after comparison in the same conditions.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from slack_sdk.signature import SignatureVerifier  # noqa: E402
from sqlalchemy import func, inspect, make_url, select, text  # noqa: E402

from core import directory  # noqa: E402
from core.db import UnitOfWork, make_engine  # noqa: E402
from core.models import MemoryBlock, Workspace  # noqa: E402
from migrations import schema  # noqa: E402
from tests.fakes.slack_api import CALLS_PATH  # noqa: E402

SECRET = "bench-signing-secret"
MANAGER = "U0MANAGER"
DEADLINE_MS = 3000.0
TARGET_P99_MS = 100.0
TIME_LIMIT_S = 600.0
# How long the confirmations that follow the ack may take to arrive after the last ack.
CONFIRMATION_WAIT_S = 120.0
STORED = re.compile(r"Stored block (\d+) ")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepare(url: str) -> None:
    schema.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        if connection.scalar(select(func.count()).select_from(Workspace)):
            print(f"{url} is not empty: give an empty database", file=sys.stderr)
            sys.exit(2)
    with UnitOfWork(engine) as uow:
        acme = directory.create_workspace(uow.session, "T0001", "Acme")
        directory.create_team(uow.session, acme, "emea", "EMEA Sales")
        directory.set_member(uow.session, acme, MANAGER, "manager", ["emea"])
        directory.create_agent(uow.session, acme, "sdr-emea", team="emea", role="sdr")
    engine.dispose()


@contextmanager
def fake_slack() -> Iterator[str]:
    """The fake Slack in a process of its own, so that it shares neither our GIL nor the
    server's; yields its base URL."""
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.slack_api"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert fake.stdout is not None
        yield fake.stdout.readline().strip()
    finally:
        fake.terminate()
        fake.wait(timeout=10)


def recorded_calls(slack_url: str) -> list[dict[str, Any]]:
    address = urlparse(slack_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    connection.request("GET", CALLS_PATH)
    calls: list[dict[str, Any]] = json.loads(connection.getresponse().read())
    connection.close()
    return calls


def start_server(url: str, slack_url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SALESBRAIN_DATABASE_URL": url,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_API_URL": f"{slack_url}/api/",
    }
    env.pop("SLACK_APP_TOKEN", None)
    salesbrain = str(Path(sys.executable).parent / "salesbrain")
    server = subprocess.Popen(
        [
            *(salesbrain, "serve", "--http", "--host", "127.0.0.1", "--port", str(port)),
            *("--workers", str(workers), "--no-scheduler"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Importing alone took 36 to 50 s of wall time on the shared machine at load 17.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("salesbrain serve did not start")


@dataclass
class Sent:
    """One signed slash command and what became of it."""

    name: str
    raw: bytes
    started: float = 0.0
    ack_ms: float = 0.0
    status: int = 0
    answer: str = ""


def signed(port: int, slack_url: str, name: str, command: str, text: str) -> Sent:
    """The HTTP request Slack would send, signed; its response URL is named after it."""
    body = urlencode(
        {
            "team_id": "T0001",
            "channel_id": "C0001",
            "user_id": MANAGER,
            "command": command,
            "text": text,
            "response_url": f"{slack_url}/respond/{name}",
            "trigger_id": f"trigger-{name}",
        }
    )
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body)
    head = (
        f"POST /slack/events HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        "content-type: application/x-www-form-urlencoded\r\n"
        f"content-length: {len(body)}\r\n"
        f"x-slack-request-timestamp: {stamp}\r\nx-slack-signature: {signature}\r\n\r\n"
    )
    return Sent(name, (head + body).encode())


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sent: Sent) -> None:
    sent.started = time.monotonic()
    writer.write(sent.raw)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    sent.ack_ms = (time.monotonic() - sent.started) * 1000
    sent.status = int(lines[0].split()[1])
    sent.answer = body.decode()


async def load(port: int, requests: list[Sent], concurrency: int) -> float:
    """Each of `concurrency` connections sends its next request when the last is answered."""
    pending = iter(requests)
    stop_at = time.monotonic() + TIME_LIMIT_S

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for sent in pending:
                if time.monotonic() > stop_at:
                    sent.answer = "not sent: time limit reached"
                    continue
                try:
                    await exchange(reader, writer, sent)
                except (OSError, asyncio.IncompleteReadError) as error:
                    sent.answer = f"connection failed: {error!r}"
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return time.monotonic() - started


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    name: str
    requests: list[Sent]
    seconds: float
    cpu_ms: float  # the server's CPU time per request, once finished
    # The server's CPU time per request until the last ack: what the acks shared (work done
    # after them meanwhile included, work deferred past the last one not).
    acking_cpu_ms: float = 0.0
    confirmations: dict[str, tuple[float, str]] = field(default_factory=dict)

    def finish(self, server_pid: int) -> None:
        """Count the server's CPU time up to now: the work done after the acks included."""
        self.cpu_ms = (cpu_seconds(server_pid) - self.cpu_ms) * 1000 / len(self.requests)

    def ack_latencies(self) -> list[float]:
        return [sent.ack_ms for sent in self.requests if sent.status]

    def ack_failures(self) -> list[str]:
        return [
            f"{sent.name}: {sent.status} {sent.answer[:120]}"
            for sent in self.requests
            if sent.status != 200
        ]


def run_phase(
    name: str, port: int, server_pid: int, requests: list[Sent], concurrency: int
) -> Phase:
    """Send the requests; the server's CPU time is counted until `phase.finish()`."""
    phase = Phase(name, requests, 0.0, cpu_seconds(server_pid))
    phase.seconds = asyncio.run(load(port, requests, concurrency))
    phase.acking_cpu_ms = (cpu_seconds(server_pid) - phase.cpu_ms) * 1000 / len(requests)
    return phase


def await_confirmations(slack_url: str, phase: Phase) -> None:
    """Wait (bounded) until every /coach is confirmed, in its ack or through its response
    URL; record when and what the person saw."""
    in_ack = {sent.name for sent in phase.requests if STORED.search(sent.answer)}
    later = {sent.name for sent in phase.requests if sent.status == 200} - in_ack
    deadline = time.monotonic() + CONFIRMATION_WAIT_S
    while True:
        posted: dict[str, tuple[float, str]] = {}
        for call in recorded_calls(slack_url):
            name = call["method"].removeprefix("respond/")
            if name in later and name not in posted:
                posted[name] = (call["at"], str(call["args"].get("text", "")))
        if len(posted) == len(later) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for sent in phase.requests:
        if sent.name in in_ack:
            phase.confirmations[sent.name] = (sent.ack_ms, sent.answer)
        elif sent.name in posted:
            at, text = posted[sent.name]
            phase.confirmations[sent.name] = ((at - sent.started) * 1000, text)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, latencies: list[float], failures: int, seconds: float, cpu: str) -> float:
    if not latencies:
        print(f"{name:22} nothing answered; failures {failures}")
        return float("inf")
    p99 = percentile(latencies, 99)
    print(
        f"{name:22} n={len(latencies):5}  p50 {percentile(latencies, 50):6.1f}  "
        f"p95 {percentile(latencies, 95):6.1f}  p99 {p99:6.1f}  max {max(latencies):6.1f} ms  "
        f"{len(latencies) / seconds:5.0f}/s  {cpu}failures {failures}"
    )
    return p99


def stored_counts(url: str) -> tuple[dict[str, int], int | None]:
    """How often each note was stored, and the commands left undone in the intake (None
    for a checkout without one)."""
    engine = make_engine(url)
    with UnitOfWork(engine, readonly=True) as uow:
        counts = dict(
            uow.session.execute(
                select(MemoryBlock.content, func.count()).group_by(MemoryBlock.content)
            ).all()
        )
        undone = None
        if inspect(uow.session.connection()).has_table("intake"):
            undone = uow.session.execute(
                text("SELECT count(*) FROM intake WHERE done_at IS NULL")
            ).scalar_one()
    engine.dispose()
    return counts, undone


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="serve --workers")
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a SQLite file)")
    args = parser.parse_args()
    if not 1 <= args.requests <= 100_000 or not 1 <= args.concurrency <= 1000:
        parser.error("--requests must be 1..100000 and --concurrency 1..1000")
    print(f"load average at start: {load_average()}")
    notes = [f"Bench note {i}: lead with the compliance angle" for i in range(args.requests)]
    with tempfile.TemporaryDirectory(prefix="slack-ack-") as folder, fake_slack() as slack_url:
        url = args.url or f"sqlite:///{Path(folder) / 'bench.db'}"
        prepare(url)
        port = free_port()
        server = start_server(url, slack_url, port, args.workers)
        try:

            def commands(prefix: str, command: str, texts: list[str]) -> list[Sent]:
                return [
                    signed(port, slack_url, f"{prefix}{i}", command, text)
                    for i, text in enumerate(texts)
                ]

            # Warm both paths (imports, connections, caches) before measuring.
            warm = ["help"] * args.concurrency
            run_phase("warm", port, server.pid, commands("w", "/brain", warm), args.concurrency)
            warm = [f"@sdr-emea Warm-up note {i}" for i in range(args.concurrency)]
            warmed = run_phase(
                "warm", port, server.pid, commands("wc", "/coach", warm), args.concurrency
            )
            # Their notes are stored and confirmed after the acks (at the latest when the
            # deferral of work after acks ends): wait for it, not to measure it in a phase.
            await_confirmations(slack_url, warmed)
            base = run_phase(
                "/brain help",
                port,
                server.pid,
                commands("h", "/brain", ["help"] * args.requests),
                args.concurrency,
            )
            base.finish(server.pid)
            coach = run_phase(
                "/coach",
                port,
                server.pid,
                commands("c", "/coach", [f"@sdr-emea {note}" for note in notes]),
                args.concurrency,
            )
            await_confirmations(slack_url, coach)
            coach.finish(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        counts, undone = stored_counts(url)

    print(f"load average at end:   {load_average()}")
    print(
        f"{args.requests} signed requests, {args.concurrency} at a time, HTTP mode on "
        f"{make_url(url).get_backend_name()}, "
        f"{args.workers} worker process(es); latencies in ms from the request's first byte"
    )
    base_p99 = report(
        "/brain help ack",
        base.ack_latencies(),
        len(base.ack_failures()),
        base.seconds,
        f"server CPU {base.cpu_ms:.2f} ms/req  ",
    )
    ack_failures = coach.ack_failures()
    coach_p99 = report(
        "/coach ack",
        coach.ack_latencies(),
        len(ack_failures),
        coach.seconds,
        f"server CPU {coach.cpu_ms:.2f} ms/req  ",
    )
    print(
        f"    server CPU per /coach until the last ack: {coach.acking_cpu_ms:.2f} ms "
        f"(/brain help {base.acking_cpu_ms:.2f} ms); in all, the work after the acks "
        f"included: {coach.cpu_ms:.2f} ms"
    )
    confirmed = [latency for latency, _ in coach.confirmations.values()]
    unconfirmed = len(coach.requests) - len(confirmed)
    report("/coach confirmation", confirmed, unconfirmed, coach.seconds, "")
    in_ack = sum(1 for sent in coach.requests if STORED.search(sent.answer))
    print(
        f"    confirmed in the ack (the queue was full): {in_ack}; after the ack: "
        f"{len(confirmed) - in_ack}; never: {unconfirmed}"
    )
    for failure in ack_failures[:5]:
        print(f"    {failure}")

    once = sum(counts.get(note) == 1 for note in notes)
    blocks = sum(counts.values()) - args.concurrency  # less the warm-up's
    block_ids = [STORED.search(text) for _, text in coach.confirmations.values()]
    distinct = len({match.group(1) for match in block_ids if match})
    print(
        f"notes stored exactly once: {once}/{len(notes)}; blocks in all: {blocks}; "
        f"confirmations naming a block of their own: {distinct}/{len(notes)}; "
        f"left undone in the intake: {'no intake' if undone is None else undone}"
    )
    verdict = "met" if coach_p99 <= TARGET_P99_MS else "missed"
    print(
        f"/coach ack p99 is {coach_p99 / base_p99:.2f}x the baseline's; "
        f"{coach_p99 / DEADLINE_MS:.1%} of Slack's {DEADLINE_MS:.0f} ms deadline "
        f"(target p99 <= {TARGET_P99_MS:.0f} ms: {verdict})"
    )
    ok = (
        not ack_failures
        and not unconfirmed
        and once == len(notes)
        and blocks == len(notes)
        and distinct == len(notes)
        and not undone
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
