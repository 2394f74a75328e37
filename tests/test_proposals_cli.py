"""`salesbrain proposals ...` and `salesbrain workspace set`: who decides, at the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.signals.simulation import Campaign, as_csv, simulate
from tests.test_cli import Result, Run, run  # noqa: F401  (fixtures)


@pytest.fixture
def waiting(run: Run, tmp_path: Path) -> Run:  # noqa: F811
    """sdr-emea's signals hold a finding; the director proposed a promotion and coaching."""
    signals = tmp_path / "signals.csv"
    campaign = Campaign(
        agents=("sdr-emea",), sends_per_agent=2_000, effects={"subject_format": {"question": 0.45}}
    )
    signals.write_text("".join(as_csv(simulate(campaign))))
    for args in [
        ("workspace", "create", "T0001", "--name", "Acme"),
        ("team", "create", "emea", "--name", "EMEA Sales"),
        ("member", "set", "U0ADMIN", "--role", "admin"),
        ("member", "set", "U0001", "--role", "manager", "--team", "emea"),
        ("member", "set", "U0002", "--role", "member"),
        ("agent", "create", "sdr-emea", "--team", "emea", "--role", "sdr"),
        ("agent", "create", "ae-emea", "--team", "emea", "--role", "account_executive"),
        ("agent", "create", "dir-emea", "--team", "emea", "--role", "director"),
        ("signals", "import", str(signals)),
        ("heartbeat", "--agent", "sdr-emea"),
        ("heartbeat", "--agent", "dir-emea"),
    ]:
        result = run(*args)
        assert result.code == 0, (args, result.err)
    return run


def _refused(result: Result, code: int, words: str) -> None:
    assert (result.code, result.out) == (code, "")
    assert result.err.startswith("error: ") and words in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_a_manager_lists_and_approves_the_directors_proposals(waiting: Run) -> None:
    listed = waiting("proposals", "list", "--json").json()["proposals"]
    assert [(p["kind"], p["status"], p["proposed_by"]) for p in listed] == [
        ("coaching", "pending", "agent:dir-emea"),
        ("promotion", "pending", "agent:dir-emea"),
    ]
    coaching, promotion = listed
    assert "coach ae-emea" in waiting("proposals", "list").out

    approved = waiting("proposals", "approve", str(coaching["id"]), "--by", "U0001")
    rejected = waiting("proposals", "reject", str(promotion["id"]), "--by", "U0001", "--json")

    assert approved.code == 0, approved.err
    assert approved.out.startswith(f"proposal {coaching['id']} approved: block ")
    assert rejected.json()["proposal"]["status"] == "rejected"
    assert waiting("proposals", "list").out.strip() == "(none)"
    shown = waiting("proposals", "list", "--status", "all", "--json").json()["proposals"]
    assert [p["decided_by"] for p in shown] == ["member:U0001", "member:U0001"]
    retracted = waiting("proposals", "retract", str(coaching["id"]), "--by", "U0001")
    assert retracted.code == 0 and "retracted" in retracted.out


def test_refusals_are_one_line_with_their_exit_status_and_change_nothing(waiting: Run) -> None:
    [coaching, _] = waiting("proposals", "list", "--json").json()["proposals"]
    ident = str(coaching["id"])

    _refused(waiting("proposals", "approve", ident, "--by", "U0002"), 3, "may not approve")
    _refused(waiting("proposals", "approve", "999", "--by", "U0001"), 4, "proposal 999 not found")
    _refused(waiting("proposals", "retract", ident, "--by", "U0001"), 2, "reject it instead")
    _refused(waiting("proposals", "list", "--status", "maybe"), 2, "status")
    assert waiting("proposals", "approve", ident, "--by", "U0001").code == 0
    _refused(waiting("proposals", "approve", ident, "--by", "U0001"), 2, "is applied")


def test_an_admin_sets_the_autonomy_and_the_director_applies_at_once(waiting: Run) -> None:
    assert waiting("workspace", "set").out.strip() == (
        "autonomy: propose; director notes per agent per day: 1; weekly digests: mon at 09:00 UTC"
    )
    _refused(waiting("workspace", "set", "--autonomy", "apply", "--by", "U0001"), 3, "only admins")
    _refused(waiting("workspace", "set", "--autonomy", "sometimes", "--by", "U0ADMIN"), 2, "")
    _refused(waiting("workspace", "set", "--autonomy", "apply"), 2, "--by is required")

    changed = waiting(
        "workspace",
        "set",
        "--autonomy",
        "apply",
        "--director-notes-per-day",
        "2",
        "--by",
        "U0ADMIN",
    )

    assert changed.code == 0, changed.err
    assert waiting("workspace", "set", "--json").json() == {
        "director": {"autonomy": "apply", "notes_per_day": 2},
        "digest": {"day": "mon", "hour": 9},
    }
