"""How fast `salesbrain serve --http` acknowledges /coach under load, against Slack's 3 s.

Starts `salesbrain serve --http` on a fresh SQLite database (a real server process, as in
production), its Web API pointed at a fake Slack on 127.0.0.1, then sends signed /coach
commands, 50 at a time, 2,000 in all, each with a note of its own. Reports ack latency
p50/p95/p99/max, failures, and whether every note was stored exactly once. The baseline,
measured in the same run and the same way, is `/brain help`: the same signed request through
the same Bolt pipeline, without the write.

    .venv/bin/python bench/slack_ack.py [--requests 2000] [--concurrency 50] [--workers 1]
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from slack_sdk.signature import SignatureVerifier  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from core import directory, schema  # noqa: E402
from core.db import UnitOfWork, make_engine  # noqa: E402
from core.models import MemoryBlock  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

SECRET = "bench-signing-secret"
MANAGER = "U0MANAGER"
DEADLINE_MS = 3000.0
TARGET_P99_MS = 100.0
TIME_LIMIT_S = 600.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepare(url: str) -> None:
    schema.upgrade(url)
    engine = make_engine(url)
    with UnitOfWork(engine) as uow:
        acme = directory.create_workspace(uow.session, "T0001", "Acme")
        directory.create_team(uow.session, acme, "emea", "EMEA Sales")
        directory.set_member(uow.session, acme, MANAGER, "manager", ["emea"])
        directory.create_agent(uow.session, acme, "sdr-emea", team="emea", role="sdr")
    engine.dispose()


def start_server(url: str, slack: FakeSlack, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SALESBRAIN_DATABASE_URL": url,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_API_URL": slack.api_url,
    }
    env.pop("SLACK_APP_TOKEN", None)
    salesbrain = str(Path(sys.executable).parent / "salesbrain")
    server = subprocess.Popen(
        [
            salesbrain,
            "serve",
            "--http",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-scheduler",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
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


class Sender:
    """Signed slash commands over one keep-alive connection per load thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()
        self.verifier = SignatureVerifier(SECRET)

    def command(self, command: str, text: str) -> tuple[float, int, str]:
        body = urlencode(
            {
                "team_id": "T0001",
                "channel_id": "C0001",
                "user_id": MANAGER,
                "command": command,
                "text": text,
                "response_url": "http://127.0.0.1:9/unused",
                "trigger_id": "t",
            }
        )
        stamp = str(int(time.time()))
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": self.verifier.generate_signature(timestamp=stamp, body=body),
        }
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=10
            )
        started = time.perf_counter()
        try:
            connection.request("POST", "/slack/events", body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read().decode()
            status = response.status
        except OSError as error:
            self.local.connection = None
            return (time.perf_counter() - started) * 1000, 0, str(error)
        return (time.perf_counter() - started) * 1000, status, answer


def load(
    send: Callable[[int], tuple[float, int, str]], requests: int, concurrency: int
) -> tuple[list[float], list[str], float]:
    started = time.perf_counter()
    stop_at = time.monotonic() + TIME_LIMIT_S
    latencies: list[float] = []
    failures: list[str] = []

    def one(i: int) -> None:
        if time.monotonic() > stop_at:
            failures.append(f"#{i}: not sent, time limit reached")
            return
        latency, status, answer = send(i)
        latencies.append(latency)
        if status != 200 or '"text"' not in answer:
            failures.append(f"#{i}: {status} {answer[:120]}")

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(requests)))
    return latencies, failures, time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, latencies: list[float], failures: list[str], seconds: float) -> float:
    p99 = percentile(latencies, 99)
    print(
        f"{name:12} n={len(latencies):5}  p50 {percentile(latencies, 50):6.1f} ms  "
        f"p95 {percentile(latencies, 95):6.1f} ms  p99 {p99:6.1f} ms  "
        f"max {max(latencies):6.1f} ms  mean {statistics.fmean(latencies):6.1f} ms  "
        f"{len(latencies) / seconds:6.0f} req/s  failures {len(failures)}"
    )
    for failure in failures[:5]:
        print(f"    {failure}")
    return p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="serve --workers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="slack-ack-") as folder, FakeSlack() as slack:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        prepare(url)
        port = free_port()
        server = start_server(url, slack, port, args.workers)
        try:
            sender = Sender(port)
            notes = [
                f"Bench note {i}: lead with the compliance angle" for i in range(args.requests)
            ]
            # Warm both paths (imports, connections) before measuring.
            load(lambda i: sender.command("/brain", "help"), 50, args.concurrency)
            base = load(lambda i: sender.command("/brain", "help"), args.requests, args.concurrency)
            coach = load(
                lambda i: sender.command("/coach", f"@sdr-emea {notes[i]}"),
                args.requests,
                args.concurrency,
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
        engine = make_engine(url)
        with UnitOfWork(engine, readonly=True) as uow:
            counts = dict(
                uow.session.execute(
                    select(MemoryBlock.content, func.count()).group_by(MemoryBlock.content)
                ).all()
            )
        engine.dispose()

    print(
        f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}"
    )
    print(
        f"{args.requests} signed requests, {args.concurrency} at a time, HTTP mode on SQLite, "
        f"{args.workers} worker process(es)"
    )
    base_p99 = report("/brain help", *base)
    coach_p99 = report("/coach", *coach)
    once = sum(counts.get(note) == 1 for note in notes)
    print(f"notes stored exactly once: {once}/{len(notes)}; blocks in all: {sum(counts.values())}")
    verdict = "met" if coach_p99 <= TARGET_P99_MS else "missed"
    print(
        f"/coach p99 is {coach_p99 / base_p99:.2f}x the baseline's; "
        f"{coach_p99 / DEADLINE_MS:.1%} of Slack's {DEADLINE_MS:.0f} ms deadline "
        f"(target p99 <= {TARGET_P99_MS:.0f} ms: {verdict})"
    )
    ok = not coach[1] and once == len(notes) and sum(counts.values()) == len(notes)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
