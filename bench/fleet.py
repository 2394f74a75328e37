"""A fleet soak on PostgreSQL: `serve --http` replicas and `heartbeat` workers under load,
one replica and one worker SIGKILLed mid-run and restarted; then every count checked.

Set-up: an empty PostgreSQL database (--url), AGENTS agents over WORKSPACES workspaces (each
agent due every minute, reporting to its team's channel), a fake Anthropic Messages API
(500 ms per answer: a learning and the report) and a fake Slack (100 ms per call, a 429
with Retry-After on chat.postMessage now and then), each in a process of its own;
REPLICAS `salesbrain serve --http` (scheduler on: they run cycles and post the reports)
and WORKERS `salesbrain heartbeat`.

Load for SECONDS: /coach at COACH_RATE per second spread over the replicas, `/brain agents`
reads, POST /signals batches, and the promote reaction on the learnings posted so far,
each reaction event delivered twice (Slack's retry, to the other replica). At KILL_AT of
the run, one replica and one worker are SIGKILLed by PID and restarted 3 s later. At
RESTART_AT, PostgreSQL itself is restarted (`pg_ctl restart -m fast`): only on the
throwaway cluster this script started (without --url), never on a server it was given.

A /coach whose ack carries an error (the database was away while it was stored) was not
acknowledged: its sender was told, and it is counted apart. Counts (the run fails, exit 1,
if one is off): every acknowledged note stored exactly once,
in its own workspace; each due cycle (agent, scheduled time) run once; each report posted
once; each learning promoted at most once; nothing written across workspaces; the intake
and the outbox drained. Latencies: p50/p95/p99 of the /coach ack and of cycle starts (from
the time the agent fell due to the cycle's start).

    .venv/bin/python bench/fleet.py [--agents 100] [--workspaces 10] [--seconds 90]
        [--coach-rate 5] [--replicas 2] [--workers 3] [--interval 1]
    .venv/bin/python bench/fleet.py --url postgresql://...empty-db ...   # no restart then
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from slack_sdk.signature import SignatureVerifier  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from bot.reports import LEARNING_EVENT, REPORT_EVENT  # noqa: E402
from core import clock, directory  # noqa: E402
from core.db import UnitOfWork, make_engine  # noqa: E402
from core.models import Agent, AgentRole, AgentStatus, Cycle, MemoryBlock, Workspace  # noqa: E402
from migrations import schema  # noqa: E402
from tests.fakes.slack_api import CALLS_PATH, FakeSlack  # noqa: E402

SECRET = "fleet-signing-secret"
SIGNALS_TOKEN = "fleet-signals-token"
SALESBRAIN = str(Path(sys.executable).parent / "salesbrain")
TIME_LIMIT_S = 1800.0
DRAIN_S = 300.0


# -- the fakes, each in a process of its own --------------------------------------------------


class RecordingSlack(FakeSlack):
    """The fake Slack, each post's recorded call also naming the ts it was given (`_ts`),
    so that the load can react to a learning's reply."""

    def answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        answer = super().answer(method, args)
        if method == "chat.postMessage":
            args["_ts"] = answer["ts"]  # the very dict the call was recorded with
        return answer


def fake_slack_process() -> None:
    """`fleet.py --fake-slack`: the fake Slack, 100 ms per call, a 429 every few seconds."""
    with RecordingSlack() as fake:
        fake.api_delay = fake.response_delay = 0.1
        print(fake.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(5)
                fake.fail("chat.postMessage", 429, times=1, retry_after=1)


def start_fake(arguments: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, *arguments], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


# -- the database --------------------------------------------------------------------------------


@dataclass
class Cluster:
    """The throwaway PostgreSQL cluster this script started (scripts/postgres-throwaway):
    the only server it ever restarts or stops."""

    url: str
    folder: str
    bindir: str

    @classmethod
    def start(cls) -> Cluster:
        script = ROOT / "scripts" / "postgres-throwaway"
        exports = subprocess.run(
            [str(script), "start"], capture_output=True, text=True, check=True
        ).stdout
        values = dict(
            line.removeprefix("export ").split("=", 1)
            for line in exports.splitlines()
            if line.startswith("export ")
        )
        return cls(
            values["SALESBRAIN_TEST_POSTGRES_URL"],
            values["SALESBRAIN_PG_DIR"],
            values["SALESBRAIN_PG_BINDIR"],
        )

    def restart(self) -> float:
        """`pg_ctl restart -m fast` on this cluster's data directory (its server options are
        kept in postmaster.opts): the seconds it took."""
        began = time.monotonic()
        pg_ctl = [f"{self.bindir}/pg_ctl", "-D", f"{self.folder}/data"]
        pg_ctl += ["-l", f"{self.folder}/server.log", "-m", "fast", "-w", "-t", "120", "restart"]
        subprocess.run(as_owner(self.folder, pg_ctl), check=True, stdout=subprocess.DEVNULL)
        return time.monotonic() - began

    def stop(self) -> None:
        script = ROOT / "scripts" / "postgres-throwaway"
        subprocess.run([str(script), "stop", self.folder], check=False)


def as_owner(folder: str, command: list[str]) -> list[str]:
    """The command as the user that owns the cluster (root may not run pg_ctl)."""
    if os.getuid() != 0:
        return command
    return ["runuser", "-u", Path(folder).owner(), "--", *command]


def seed(url: str, agents: int, workspaces: int, interval: int) -> None:
    schema.upgrade(url)
    engine = make_engine(url)
    with UnitOfWork(engine) as uow:
        if uow.session.scalar(select(func.count()).select_from(Workspace)):
            print(f"{url} is not empty: give an empty database", file=sys.stderr)
            sys.exit(2)
        now = clock.now()
        rows = []
        for w in range(workspaces):
            workspace = directory.create_workspace(uow.session, team_id(w), f"Fleet {w}")
            team = directory.create_team(uow.session, workspace, "sales", "Sales")
            directory.set_member(uow.session, workspace, manager(w), "manager", ["sales"])
            uow.session.flush()
            for n in range(w, agents, workspaces):
                rows.append(
                    {
                        "workspace_id": workspace.id,
                        "team_id": team.id,
                        "handle": f"sdr-{n:04d}",
                        "display_name": f"sdr-{n:04d}",
                        "role": AgentRole.SDR,
                        "objective": f"Book meetings in territory {n}",
                        "status": AgentStatus.ACTIVE,
                        "interval_minutes": interval,
                        "report_channel": f"C{w:04d}",
                        # Due within the first interval, spread.
                        "next_run_at": now + timedelta(seconds=random.uniform(0, 60 * interval)),
                    }
                )
        uow.session.execute(insert(Agent), rows)
        uow.commit()
    engine.dispose()


def team_id(w: int) -> str:
    return f"T{w + 1:04d}"  # T0001 is the fake Slack's own


def manager(w: int) -> str:
    return f"U0MGR{w:04d}"


# -- the fleet -----------------------------------------------------------------------------------


@dataclass
class Fleet:
    url: str
    slack_url: str
    anthropic_url: str
    folder: Path
    replicas: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        env = {
            **os.environ,
            "SALESBRAIN_DATABASE_URL": self.url,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_BOT_TOKEN": "xoxb-fleet",
            "SLACK_API_URL": f"{self.slack_url}/api/",
            "SALESBRAIN_LLM": "anthropic",
            "ANTHROPIC_API_KEY": "sk-fleet",
            "ANTHROPIC_BASE_URL": self.anthropic_url,
            "SALESBRAIN_SIGNALS_TOKEN": SIGNALS_TOKEN,
            "SALESBRAIN_HEARTBEAT_TICK_SECONDS": "2",
            "SALESBRAIN_HEARTBEAT_LEASE_SECONDS": "60",
            "SALESBRAIN_HEARTBEAT_MODEL_TIMEOUT_SECONDS": "20",
            "SALESBRAIN_INTAKE_LEASE_SECONDS": "5",
            "SALESBRAIN_INTAKE_SWEEP_SECONDS": "1",
        }
        env.pop("SLACK_APP_TOKEN", None)
        return env

    def start_replica(self, slot: int) -> None:
        if slot == len(self.ports):
            self.ports.append(free_port())
            self.replicas.append(None)  # type: ignore[arg-type]
        command = [SALESBRAIN, "serve", "--http", "--host", "127.0.0.1"]
        command += ["--port", str(self.ports[slot])]
        with (self.folder / f"serve-{slot}.log").open("ab") as log:
            self.replicas[slot] = subprocess.Popen(
                command, env=self.environment(), stdout=log, stderr=subprocess.STDOUT
            )
        wait_healthy(self.ports[slot])

    def start_worker(self, slot: int) -> None:
        if slot == len(self.workers):
            self.workers.append(None)  # type: ignore[arg-type]
        with (self.folder / f"heartbeat-{slot}.log").open("ab") as log:
            self.workers[slot] = subprocess.Popen(
                [SALESBRAIN, "heartbeat"],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        for process in self.replicas + self.workers:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.replicas + self.workers:
            if process is None:
                continue
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(port: int) -> None:
    # Importing alone took 36 to 50 s of wall time on the shared machine at load 17.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"serve on {port} did not start")


# -- the load -------------------------------------------------------------------------------------


@dataclass
class Acked:
    """A /coach acknowledged: its note, and the workspace it was sent to."""

    note: str
    team: str
    ack_ms: float


@dataclass(frozen=True)
class Answer:
    """A replica's answer to a signed request."""

    status: int
    text: str
    ms: float

    @property
    def acknowledged(self) -> bool:
        """A plain ack, or one that carries the note's confirmation; not an error line."""
        if self.status != 200:
            return False
        return not self.text or json.loads(self.text).get("text", "").startswith("Stored block")


class Load:
    """Signed requests to the replicas, round-robin; what was acknowledged."""

    def __init__(self, fleet: Fleet, slack_url: str) -> None:
        self.fleet = fleet
        self.slack_url = slack_url
        self.verifier = SignatureVerifier(SECRET)
        self.numbers = itertools.count()
        self.acked: list[Acked] = []
        self.failed: Counter[str] = Counter()
        self.reacted: set[tuple[str, str]] = set()
        self.lock = threading.Lock()

    def post(self, body: str, content_type: str, slot: int | None = None) -> Answer:
        n = next(self.numbers)
        port = self.fleet.ports[n % len(self.fleet.ports) if slot is None else slot]
        moment = str(int(time.time()))
        headers = {
            "content-type": content_type,
            "x-slack-request-timestamp": moment,
            "x-slack-signature": self.verifier.generate_signature(timestamp=moment, body=body),
        }
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("POST", "/slack/events", body=body.encode(), headers=headers)
            response = connection.getresponse()
            status, text_ = response.status, response.read().decode()
        except OSError:
            status, text_ = 0, ""  # the replica is down (killed): Slack would retry; we count it
        return Answer(status, text_, (time.perf_counter() - started) * 1000)

    def command(self, w: int, command: str, text_: str) -> Answer:
        n = next(self.numbers)
        form = {
            "team_id": team_id(w),
            "channel_id": f"C{w:04d}",
            "user_id": manager(w),
            "command": command,
            "text": text_,
            "response_url": f"{self.slack_url}/respond/fleet-{n}",
            "trigger_id": f"fleet-{n}",
        }
        return self.post(urlencode(form), "application/x-www-form-urlencoded")

    def coach(self, w: int, agents: int, workspaces: int) -> None:
        handle = f"sdr-{random.randrange(w, agents, workspaces):04d}"
        note = f"Fleet note {next(self.numbers)} for {team_id(w)}"
        answer = self.command(w, "/coach", f"@{handle} {note}")
        with self.lock:
            if answer.acknowledged:
                self.acked.append(Acked(note, team_id(w), answer.ms))
            elif answer.status == 200:
                self.failed[f"/coach answered {answer.text[:60]!r}"] += 1
            else:
                self.failed[f"/coach {answer.status}"] += 1

    def read(self, w: int) -> None:
        answer = self.command(w, "/brain", "agents")
        if answer.status != 200:
            with self.lock:
                self.failed[f"/brain agents {answer.status}"] += 1

    def signals(self, w: int) -> None:
        now = clock.now().isoformat()
        lines = "\n".join(
            json.dumps(
                {
                    "id": f"sig-{w}-{next(self.numbers)}",
                    "type": "email_sent",
                    "occurred_at": now,
                    "agent": f"sdr-{w:04d}",
                }
            )
            for _ in range(20)
        )
        port = self.fleet.ports[next(self.numbers) % len(self.fleet.ports)]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request(
                "POST",
                f"/signals?workspace={team_id(w)}",
                body=lines.encode(),
                headers={"authorization": f"Bearer {SIGNALS_TOKEN}"},
            )
            status = connection.getresponse().status
        except OSError:
            status = 0
        if status != 200:
            with self.lock:
                self.failed[f"/signals {status}"] += 1

    def react(self, workspaces: dict[str, int]) -> None:
        """The promote emoji on each learning reply posted so far, each delivered twice."""
        for args in posts(self.slack_url, LEARNING_EVENT):
            channel, ts = str(args.get("channel")), args.get("_ts")
            if ts is None or (channel, ts) in self.reacted:
                continue
            self.reacted.add((channel, ts))
            w = workspaces[channel]
            event_id = f"EvFleet{next(self.numbers)}"
            body = json.dumps(
                {
                    "team_id": team_id(w),
                    "api_app_id": "A0FLEET",
                    "type": "event_callback",
                    "event_id": event_id,
                    "event_time": int(time.time()),
                    "event": {
                        "type": "reaction_added",
                        "user": manager(w),
                        "reaction": "brain",
                        "item": {"type": "message", "channel": channel, "ts": ts},
                        "event_ts": f"{time.time():.6f}",
                    },
                }
            )
            for slot in range(len(self.fleet.ports)):  # delivered, then redelivered elsewhere
                self.post(body, "application/json", slot)


def posts(slack_url: str, event: str) -> list[dict[str, Any]]:
    """The arguments of each post Slack took (not a 429) whose metadata is `event`."""
    address = urlparse(slack_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    connection.request("GET", CALLS_PATH)
    calls: list[dict[str, Any]] = json.loads(connection.getresponse().read())
    return [
        call["args"]
        for call in calls
        if call["method"] == "chat.postMessage"
        and "_failed" not in call["args"]
        and metadata(call["args"]).get("event_type") == event
    ]


def metadata(args: dict[str, Any]) -> dict[str, Any]:
    value = args.get("metadata") or {}
    return json.loads(value) if isinstance(value, str) else dict(value)


# -- the counts --------------------------------------------------------------------------------


def percentiles(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    return f"p50 {at(50):,.1f}  p95 {at(95):,.1f}  p99 {at(99):,.1f}  max {ordered[-1]:,.1f}"


def pause_agents(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE agents SET status = 'paused'"))
    engine.dispose()


def drained(url: str) -> bool:
    """No command waits in the intake, no report in the outbox, no agent in a cycle (a lease
    left by a cycle that failed, the database away, lapses; nobody claims a paused agent)."""
    engine = make_engine(url)
    with engine.connect() as connection:
        undone = connection.scalar(text("SELECT count(*) FROM intake WHERE done_at IS NULL"))
        pending = connection.scalar(text("SELECT count(*) FROM outbox WHERE status = 'pending'"))
        leased = connection.scalar(
            text("SELECT count(*) FROM agents WHERE lease_expires_at > now()")
        )
    engine.dispose()
    return not undone and not pending and not leased


def count(url: str, load: Load, slack_url: str, started_at: Any) -> bool:
    engine = make_engine(url)
    ok = True
    with UnitOfWork(engine, readonly=True) as uow:
        s = uow.session
        teams = dict(s.execute(select(Workspace.id, Workspace.slack_team_id)).all())
        notes = Counter(
            (content, teams[workspace_id])
            for content, workspace_id in s.execute(
                select(MemoryBlock.content, MemoryBlock.workspace_id).where(
                    MemoryBlock.content.like("Fleet note %")
                )
            )
        )
        once = sum(notes[(a.note, a.team)] == 1 for a in load.acked)
        elsewhere = sum(1 for (note, team), n in notes.items() if not note.endswith(f"for {team}"))
        print(
            f"acknowledged notes stored exactly once in their workspace: {once}/{len(load.acked)}"
        )
        print(f"notes stored in another workspace: {elsewhere}")
        ok &= once == len(load.acked) and elsewhere == 0
        cycles = list(
            s.execute(
                select(
                    Cycle.id,
                    Cycle.agent_id,
                    Cycle.workspace_id,
                    Cycle.scheduled_for,
                    Cycle.started_at,
                    Cycle.status,
                )
            )
        )
        agents = dict(s.execute(select(Agent.id, Agent.workspace_id)).all())
        runs = Counter((c.agent_id, c.scheduled_for) for c in cycles if c.scheduled_for)
        twice = sum(1 for n in runs.values() if n > 1)
        crossed = sum(1 for c in cycles if agents[c.agent_id] != c.workspace_id)
        statuses = Counter(str(c.status) for c in cycles)
        print(
            f"cycles: {len(cycles)} {dict(statuses)}; a due time run twice: {twice}; "
            f"in another workspace: {crossed}"
        )
        ok &= twice == 0 and crossed == 0
        starts = [
            (c.started_at - c.scheduled_for).total_seconds() * 1000
            for c in cycles
            if c.scheduled_for and c.scheduled_for >= started_at
        ]
        print(f"cycle start after falling due, ms: {percentiles(starts)}")
        promoted = Counter(
            s.scalars(
                select(MemoryBlock.promoted_from_id).where(
                    MemoryBlock.promoted_from_id.is_not(None)
                )
            )
        )
        twice_promoted = sum(1 for n in promoted.values() if n > 1)
        print(
            f"learnings reacted to: {len(load.reacted)}; promoted: {len(promoted)}; "
            f"promoted twice: {twice_promoted}"
        )
        ok &= twice_promoted == 0
        crossed_blocks = s.scalar(
            select(func.count())
            .select_from(MemoryBlock)
            .join(Agent, MemoryBlock.agent_id == Agent.id)
            .where(Agent.workspace_id != MemoryBlock.workspace_id)
        )
        print(f"blocks on an agent of another workspace: {crossed_blocks}")
        ok &= crossed_blocks == 0
    engine.dispose()
    reports = Counter(
        metadata(args)["event_payload"]["cycle_id"] for args in posts(slack_url, REPORT_EVENT)
    )
    posted_twice = sum(1 for n in reports.values() if n > 1)
    print(f"reports posted: {len(reports)}; posted twice: {posted_twice}")
    ok &= posted_twice == 0
    print(f"/coach ack ms: {percentiles([a.ack_ms for a in load.acked])}")
    print(f"requests not acknowledged (replica down, or refused): {dict(load.failed)}")
    return ok


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a throwaway one)")
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--workspaces", type=int, default=10)
    parser.add_argument("--interval", type=int, default=1, help="each agent's, in minutes")
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--coach-rate", type=float, default=5)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kill-at", type=float, default=0.4)
    parser.add_argument("--restart-at", type=float, default=0.6, help="0: no restart")
    parser.add_argument("--fake-slack", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fake_slack:
        fake_slack_process()
        return
    if args.url and not args.url.startswith("postgres"):
        parser.error("--url: give an empty PostgreSQL database")
    if not (1 <= args.workspaces <= 100 and args.workspaces <= args.agents <= 100_000):
        parser.error("--workspaces 1..100 and --agents workspaces..100000")
    if not (10 <= args.seconds <= TIME_LIMIT_S and 0 < args.coach_rate <= 200):
        parser.error(f"--seconds 10..{TIME_LIMIT_S:.0f} and --coach-rate up to 200")
    if not (1 <= args.replicas <= 8 and 1 <= args.workers <= 16 and 1 <= args.interval <= 60):
        parser.error("--replicas 1..8, --workers 1..16 and --interval 1..60")
    if not (0 < args.kill_at < 1 and 0 <= args.restart_at < 1):
        parser.error("--kill-at and --restart-at: fractions of the run")
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    cluster = None if args.url else Cluster.start()
    try:
        ok = soak(args, args.url or cluster.url, cluster)  # type: ignore[union-attr]
    finally:
        if cluster is not None:
            cluster.stop()
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    sys.exit(0 if ok else 1)


def soak(args: argparse.Namespace, url: str, cluster: Cluster | None) -> bool:
    """Seed, start the fakes and the fleet, load it with its faults, drain it, count."""
    random.seed(16)
    seed(url, args.agents, args.workspaces, args.interval)
    slack, slack_url = start_fake([str(Path(__file__).resolve()), "--fake-slack"])
    anthropic, anthropic_url = start_fake(["-m", "tests.fakes.anthropic_api", "--latency", "0.5"])
    channels = {f"C{w:04d}": w for w in range(args.workspaces)}
    with tempfile.TemporaryDirectory(prefix="fleet-") as folder:
        fleet = Fleet(url, slack_url, anthropic_url, Path(folder))
        ok = False
        try:
            began = time.monotonic()
            for slot in range(args.replicas):
                fleet.start_replica(slot)
            for slot in range(args.workers):
                fleet.start_worker(slot)
            print(f"fleet healthy in {time.monotonic() - began:.0f} s", flush=True)
            started_at = clock.now()
            load = Load(fleet, slack_url)
            run_load(args, fleet, load, channels, cluster)
            pause_agents(url)  # the cycles running finish; no new one starts
            deadline = time.monotonic() + DRAIN_S
            while not drained(url) and time.monotonic() < deadline:
                time.sleep(1)
            ok = drained(url)
            print(f"intake, outbox and leases drained: {ok}")
            fleet.stop()
            ok &= count(url, load, slack_url, started_at)
        finally:
            fleet.stop()
            for process in (slack, anthropic):
                process.terminate()
                process.wait(timeout=30)
            keep_logs(Path(folder))
    return ok


def keep_logs(folder: Path) -> None:
    """The processes' logs, kept (and their tracebacks counted) for the run's diagnosis."""
    kept = Path(tempfile.mkdtemp(prefix="fleet-logs-"))
    tracebacks = Counter[str]()
    for log in sorted(folder.glob("*.log")):
        kept.joinpath(log.name).write_bytes(log.read_bytes())
        tracebacks[log.stem] = log.read_text().count("Traceback (most recent call last)")
    print(f"process logs kept in {kept}; tracebacks in them: {dict(tracebacks)}")


def run_load(
    args: argparse.Namespace,
    fleet: Fleet,
    load: Load,
    channels: dict[str, int],
    cluster: Cluster | None,
) -> None:
    """The load for `args.seconds`, with the kills and the database's restart."""
    began = time.monotonic()
    killed = restarted = None
    restart_at = args.restart_at * args.seconds if cluster is not None and args.restart_at else None
    every = 1 / args.coach_rate
    # Enough threads for every request in flight while acks take seconds (a loaded machine).
    with ThreadPoolExecutor(max(16, int(args.coach_rate * 6))) as pool:
        tick = 0
        while (elapsed := time.monotonic() - began) < args.seconds:
            w = tick % args.workspaces
            pool.submit(load.coach, w, args.agents, args.workspaces)
            if tick % 5 == 0:
                pool.submit(load.read, w)
            if tick % 50 == 0:
                pool.submit(load.signals, w)
                pool.submit(load.react, channels)
            if killed is None and elapsed >= args.kill_at * args.seconds:
                os.kill(fleet.replicas[0].pid, signal.SIGKILL)
                os.kill(fleet.workers[0].pid, signal.SIGKILL)
                fleet.replicas[0].wait()
                fleet.workers[0].wait()
                print(f"SIGKILLed replica 0 and worker 0 at {elapsed:.0f} s", flush=True)
                killed = pool.submit(restart, fleet)
            if restarted is None and restart_at is not None and elapsed >= restart_at:
                restarted = pool.submit(restart_postgres, cluster, elapsed)  # type: ignore[arg-type]
            tick += 1
            time.sleep(max(0.0, began + tick * every - time.monotonic()))
        for fault in (killed, restarted):
            if fault is not None:
                fault.result()  # done (or why not)
    if restart_at is None:
        print("PostgreSQL not restarted (--url: not a cluster this script started)")
    load.react(channels)


def restart(fleet: Fleet) -> None:
    time.sleep(3)
    began = time.monotonic()
    fleet.start_worker(0)
    fleet.start_replica(0)
    print(
        f"restarted replica 0 and worker 0 ({time.monotonic() - began:.0f} s to healthy)",
        flush=True,
    )


def restart_postgres(cluster: Cluster, elapsed: float) -> None:
    took = cluster.restart()
    print(f"restarted PostgreSQL at {elapsed:.0f} s ({took:.1f} s down)", flush=True)


if __name__ == "__main__":
    main()
