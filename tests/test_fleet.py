"""The fleet soak (bench/fleet.py) at a small size: replicas and workers on PostgreSQL under
load, one of each SIGKILLed and restarted, PostgreSQL itself restarted, every count exact. It
starts its own throwaway PostgreSQL cluster and seven processes and takes minutes on a loaded
machine, so it runs only when asked:

    SALESBRAIN_FLEET_TEST=1 scripts/test tests/test_fleet.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FLEET = Path(__file__).resolve().parents[1] / "bench" / "fleet.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("SALESBRAIN_FLEET_TEST"),
        reason="minutes long: SALESBRAIN_FLEET_TEST=1 scripts/test tests/test_fleet.py",
    ),
]


def test_a_small_fleet_loses_and_doubles_nothing_through_kills_and_a_postgres_restart() -> None:
    arguments = ["--agents", "20", "--workspaces", "2", "--seconds", "30", "--coach-rate", "2"]
    run = subprocess.run(
        [sys.executable, str(FLEET), *arguments, "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=1200,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert "SIGKILLed replica 0 and worker 0" in run.stdout
    assert "restarted PostgreSQL" in run.stdout
    assert "notes stored in another workspace: 0" in run.stdout
    assert "posted twice: 0" in run.stdout and "promoted twice: 0" in run.stdout
