"""The heartbeat runner: claims due agents and runs their cycles in a thread pool.

One process runs many cycles at once, at most `concurrency` per workspace and `max_workers`
in all. APScheduler ticks to look for due agents (and to deliver the outbox); a finished
cycle looks again at once, so a busy workspace never waits for the next tick. Once a day
it also merges the memory full-text index (what `salesbrain db optimize` does), which
keeps context assembly fast as blocks are written. Used by `salesbrain heartbeat` and
`salesbrain serve`.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import clock, digest, notices, use_cases
from core.context import optimize_index
from core.db import UnitOfWork, unit_of_work
from core.directory import OPERATOR
from core.heartbeat import leases, outbox
from core.heartbeat.backends import Backend
from core.heartbeat.config import HeartbeatSettings
from core.heartbeat.cycle import CycleResult, run_cycle
from core.heartbeat.leases import Claim
from core.models import Workspace
from core.permissions import Actor

log = logging.getLogger(__name__)

DELIVERY_SECONDS = 5.0
# How often the scheduler looks for digests whose weekday and hour have come.
DIGEST_SECONDS = 300.0


class HeartbeatRunner:
    """Runs the cycles of due agents, within the concurrency limits, and delivers reports."""

    def __init__(
        self,
        engine: Engine,
        backend: Backend,
        settings: HeartbeatSettings,
        *,
        sinks: Sequence[outbox.Sink] = (),
        posts: dict[str, notices.Post] | None = None,
        worker: str | None = None,
        workspace_id: int | None = None,
        on_cycle: Callable[[CycleResult], None] | None = None,
    ) -> None:
        self.engine = engine
        self.backend = backend
        self.settings = settings
        self.sinks = list(sinks)
        self.posts = dict(posts or {})
        self.worker = worker or leases.worker_name()
        self.workspace_id = workspace_id
        self.on_cycle = on_cycle
        self._running: Counter[int] = Counter()
        self._lock = threading.Condition()
        self._stopping = False
        self._pool = ThreadPoolExecutor(settings.max_workers, thread_name_prefix="cycle")
        self._scheduler: BackgroundScheduler | None = None

    # -- claiming -------------------------------------------------------------------------

    def fill(self) -> int:
        """Claim due agents up to the free capacity and start their cycles."""
        with self._lock:
            return self._fill_locked()

    def _fill_locked(self) -> int:
        if self._stopping:
            return 0
        free_total = self.settings.max_workers - sum(self._running.values())
        claims: list[Claim] = []
        if free_total > 0:
            with unit_of_work(self.engine) as session:
                now = clock.now()
                for workspace_id in leases.due_workspaces(session, now, self.workspace_id):
                    free = min(
                        self.settings.concurrency - self._running[workspace_id],
                        free_total - len(claims),
                    )
                    claims += leases.claim_due(
                        session,
                        self.worker,
                        now=now,
                        limit=free,
                        lease_seconds=self.settings.lease_seconds,
                        workspace_id=workspace_id,
                    )
        # Started only once the claims are committed.
        for claim in claims:
            self._running[claim.workspace_id] += 1
            self._pool.submit(contextvars.copy_context().run, self._run, claim)
        return len(claims)

    def _run(self, claim: Claim) -> None:
        try:
            result = run_cycle(self.engine, claim, self.backend, self.settings)
            if result is not None and self.on_cycle is not None:
                self.on_cycle(result)
        except Exception:
            # The lease stays until it lapses; another worker (or this one) runs it then.
            log.exception("cycle of agent %s could not be stored", claim.agent_id)
        finally:
            with self._lock:
                self._running[claim.workspace_id] -= 1
                try:
                    self._fill_locked()
                except Exception:
                    log.exception("claiming due agents failed")
                self._lock.notify_all()

    # -- one pass, one agent ---------------------------------------------------------------

    def run_once(self) -> None:
        """Run every agent that is due now, wait for the cycles, then deliver the reports."""
        with self._lock:
            self._fill_locked()
            while sum(self._running.values()) > 0:
                self._lock.wait(timeout=1.0)
        self.deliver()

    def run_agent(
        self, workspace: str | None, handle: str, by: Actor = OPERATOR
    ) -> CycleResult | None:
        """Run one agent's cycle now, due or not, in this thread; then deliver the reports."""
        result = use_cases.run_cycle_now(
            UnitOfWork(self.engine),
            workspace,
            handle,
            by,
            self.backend,
            self.settings,
            self.worker,
        )
        if result is not None and self.on_cycle is not None:
            self.on_cycle(result)
        self.deliver()
        return result

    def maintain_index(self) -> int:
        """Merge the memory full-text index (short steps; writers barely wait): the steps."""
        started = time.perf_counter()
        steps = optimize_index(self.engine)
        log.info("full-text index merged: %d steps in %.1f s", steps, time.perf_counter() - started)
        return steps

    def deliver(self) -> outbox.DeliveryRun:
        """Deliver the reports that are due through this runner's sinks, then the notices
        (digests, flagged coaching) through its posters."""
        run = use_cases.deliver_reports(
            UnitOfWork(self.engine), self.sinks, self.settings, self.worker
        )
        if self.posts:
            notices.deliver_notices(self.engine, self.posts, self.worker)
        return run

    def queue_digests(self) -> list[str]:
        """Queue the weekly digests whose slot has come (once each, whichever worker runs)."""
        with unit_of_work(self.engine) as session:
            query = select(Workspace).order_by(Workspace.id)
            if self.workspace_id is not None:
                query = query.where(Workspace.id == self.workspace_id)
            now = clock.now()
            return [
                key for ws in session.scalars(query) for key in digest.queue_due(session, ws, now)
            ]

    # -- the scheduler -------------------------------------------------------------------

    def start(self) -> None:
        """Tick in the background: look for due agents and deliver reports."""
        scheduler = BackgroundScheduler(timezone=UTC)
        first = datetime.now(UTC)
        scheduler.add_job(
            self.fill,
            "interval",
            seconds=self.settings.tick_seconds,
            next_run_time=first,
            id="heartbeat-tick",
            max_instances=1,
            coalesce=True,
        )
        scheduler.add_job(
            self.deliver,
            "interval",
            seconds=min(DELIVERY_SECONDS, self.settings.tick_seconds),
            next_run_time=first,
            id="outbox-delivery",
            max_instances=1,
            coalesce=True,
        )
        scheduler.add_job(
            self.queue_digests,
            "interval",
            seconds=DIGEST_SECONDS,
            next_run_time=first,
            id="weekly-digests",
            max_instances=1,
            coalesce=True,
        )
        if self.settings.index_maintenance_hour >= 0:
            scheduler.add_job(
                self.maintain_index,
                "cron",
                hour=self.settings.index_maintenance_hour,
                minute=0,
                jitter=600,  # schedulers of several processes do not all start together
                id="index-maintenance",
                max_instances=1,
                coalesce=True,
            )
        scheduler.start()
        self._scheduler = scheduler

    def stop(self) -> None:
        """Stop claiming, let running cycles finish, deliver what they reported."""
        with self._lock:
            self._stopping = True
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        self._pool.shutdown(wait=True)
        self.deliver()

    def next_runs(self) -> dict[str, datetime]:
        """When each of the scheduler's jobs runs next, by id (empty before `start`)."""
        if self._scheduler is None:
            return {}
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}

    @property
    def running(self) -> int:
        with self._lock:
            return sum(self._running.values())
