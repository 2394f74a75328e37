"""The command line as a user runs it: the README walk-through, exit codes, JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from core import clock


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out)


Run = Callable[..., Result]


@pytest.fixture
def run(cli_env: str, capsys: pytest.CaptureFixture[str]) -> Run:
    def invoke(*args: str) -> Result:
        try:
            main(list(args))
            code = 0
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def acme(run: Run) -> Run:
    for args in [
        ("workspace", "create", "T0001", "--name", "Acme"),
        ("team", "create", "emea", "--name", "EMEA Sales"),
        ("member", "set", "U0001", "--role", "manager", "--team", "emea"),
        ("member", "set", "U0002", "--role", "member"),
        ("member", "set", "U0009", "--role", "admin"),
        ("agent", "create", "sdr-emea", "--team", "emea", "--role", "sdr"),
    ]:
        result = run(*args)
        assert result.code == 0, result.err
    return run


def test_readme_walkthrough_coaches_an_agent_and_lists_its_memory(acme: Run) -> None:
    coached = acme(
        "coach", "sdr-emea", "Lead with compliance angle for healthcare CTOs", "--by", "U0001"
    )
    assert coached.code == 0, coached.err
    assert "block 1" in coached.out

    [block] = acme("memory", "list", "--json").json()["blocks"]
    assert block["tier"] == "personal"
    assert block["type"] == "coaching"
    assert block["agent"] == "sdr-emea"
    assert block["importance"] >= 0.8
    assert block["source"]["kind"] == "slack_user"
    assert block["source"]["ref"] == "U0001"

    listed = acme("memory", "list")
    assert "Lead with compliance angle" in listed.out
    assert listed.out.splitlines()[0].split()[:4] == ["id", "tier", "owner", "type"]


def test_a_member_cannot_coach_and_memory_is_unchanged(acme: Run) -> None:
    before = acme("memory", "list", "--json").json()
    refused = acme("coach", "sdr-emea", "Push harder", "--by", "U0002")
    assert refused.code == 3
    assert refused.err.count("\n") == 1 and refused.err.startswith("error: ")
    assert "may not coach" in refused.err
    assert "Traceback" not in refused.err
    assert acme("memory", "list", "--json").json() == before


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("coach", "sdr-nobody", "hi", "--by", "U0001"), 4, "not found"),
        (("memory", "show", "999"), 4, "not found"),
        (("coach", "sdr-emea", "   ", "--by", "U0001"), 2, "note: is empty"),
        (("coach", "sdr-emea", "x" * 4001, "--by", "U0001"), 2, "limit is 4,000"),
        (("coach", "sdr-emea", "hi", "--by", "U0001", "--importance", "2"), 2, "importance"),
        (("coach", "sdr-emea", "hi", "--by", "U0001", "--type", "gossip"), 2, "unknown type"),
        (("coach", "sdr-emea", "hi"), 2, "--by"),
        (("agent", "create", "Bad Handle", "--team", "emea", "--role", "sdr"), 2, "handle"),
        (("agent", "create", "x1", "--team", "nowhere", "--role", "sdr"), 4, "teams: emea"),
        (("agent", "create", "x1", "--team", "emea", "--role", "cfo"), 2, "unknown role"),
        (("agent", "set", "sdr-emea", "--every", "2s"), 2, "every"),
        (("memory", "list", "--workspace", "T9999"), 4, "workspace T9999 not found"),
        (
            (
                "memory",
                "frobnicate",
            ),
            2,
            "No such command",
        ),
    ],
)
def test_errors_are_one_line_with_the_contracted_exit_code(
    acme: Run, args: tuple[str, ...], code: int, words: str
) -> None:
    result = acme(*args)
    assert result.code == code, result.err
    assert words in result.err
    assert result.err.startswith("error: ") and result.err.count("\n") == 1


def test_promotion_and_refused_promotion_both_appear_in_the_audit_log(acme: Run) -> None:
    acme("coach", "sdr-emea", "Lead with compliance angle", "--by", "U0001")
    assert acme("promote", "1", "--to", "team", "--by", "U0002").code == 3
    promoted = acme("promote", "1", "--to", "team", "--by", "U0001", "--json").json()["block"]
    assert promoted["tier"] == "team" and promoted["promoted_from"] == 1
    assert acme("promote", "1", "--to", "team", "--by", "U0001").code == 2

    events = acme("audit", "--json").json()["events"]
    promotions = [(e["actor"], e["outcome"]) for e in events if e["action"] == "promote"]
    assert promotions == [
        ("member:U0001", "refused"),
        ("member:U0001", "ok"),
        ("member:U0002", "refused"),
    ]


def test_model_upgrade_changes_one_field_and_keeps_the_memory(acme: Run) -> None:
    acme("coach", "sdr-emea", "Lead with compliance angle", "--by", "U0001")
    before = acme("memory", "list", "--agent", "sdr-emea", "--json").json()
    changed = acme("agent", "set", "sdr-emea", "--model", "claude-opus-5", "--json").json()
    assert changed["agent"]["model"] == "claude-opus-5"
    assert acme("memory", "list", "--agent", "sdr-emea", "--json").json() == before


def test_agent_on_a_deprecated_model_gets_an_upgrade_warning(acme: Run) -> None:
    with clock.frozen_at(datetime(2026, 11, 23, 9, 0, tzinfo=UTC)):
        assert acme("agent", "set", "sdr-emea", "--model", "claude-sonnet-4-5").code == 0
        shown = acme("agent", "show", "sdr-emea")
    assert "which reaches end of life on 2026-11-30" in shown.out
    assert "salesbrain agent set sdr-emea --model claude-sonnet-5-5" in shown.out


DEC_01 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CURRENT = "current models: claude-sonnet-5-5, claude-opus-5-5, claude-haiku-5-5, claude-opus-5"


def test_a_retired_or_unknown_model_is_one_line_naming_the_current_models_and_changes_nothing(
    acme: Run,
) -> None:
    before = acme("agent", "show", "sdr-emea", "--json").json()
    with clock.frozen_at(DEC_01):
        retired = acme("agent", "set", "sdr-emea", "--model", "claude-sonnet-4-5")
        unknown = acme("agent", "set", "sdr-emea", "--model", "gpt-4")
        created = acme("agent", "create", "sdr-x", "--team", "emea", "--role", "sdr",
                       "--model", "claude-2.1")  # fmt: skip
    assert (retired.code, unknown.code, created.code) == (2, 2, 2)
    assert retired.err == (
        f"error: model: claude-sonnet-4-5 was retired on 2026-11-30; {CURRENT}\n"
    )
    assert unknown.err == (
        "error: model: gpt-4 is not a model this installation knows (--force for a model "
        f"newer than the installed anthropic SDK); {CURRENT}\n"
    )
    assert created.err.startswith("error: model: claude-2.1 was retired on 2025-07-21;")
    assert acme("agent", "show", "sdr-emea", "--json").json() == before
    assert [a["handle"] for a in acme("agent", "list", "--json").json()["agents"]] == ["sdr-emea"]


def test_force_allows_a_model_newer_than_the_sdk_but_never_a_retired_one(acme: Run) -> None:
    with clock.frozen_at(DEC_01):
        newer = acme("agent", "set", "sdr-emea", "--model", "claude-next-9", "--force", "--json")
        retired = acme("agent", "set", "sdr-emea", "--model", "claude-sonnet-4-5", "--force")
    assert newer.code == 0, newer.err
    assert (newer.json()["agent"]["model"], newer.json()["agent"]["model_state"]) == (
        "claude-next-9",
        "unknown",
    )
    assert retired.code == 2 and "was retired on 2026-11-30" in retired.err


def test_agent_list_shows_each_agents_model_state(acme: Run) -> None:
    acme("agent", "create", "ae-emea", "--team", "emea", "--role", "account_executive",
         "--model", "claude-opus-4-5")  # fmt: skip
    with clock.frozen_at(DEC_01):
        listed = acme("agent", "list")
        agents = acme("agent", "list", "--json").json()["agents"]
    lines = listed.out.splitlines()
    assert lines[0].split()[:6] == ["agent", "role", "team", "model", "model", "state"]
    assert "claude-opus-4-5    deprecated, end of life 2027-01-22" in lines[2]
    assert "claude-sonnet-5-5  current" in lines[3]
    assert [(a["model_state"], a["model_end_of_life"]) for a in agents] == [
        ("deprecated", "2027-01-22"),
        ("current", None),
    ]


def test_models_lists_what_the_installation_knows_with_states_and_the_default(
    acme: Run,
) -> None:
    with clock.frozen_at(DEC_01):
        text = acme("models").out
        data = acme("models", "--json").json()
    assert text.splitlines()[2:] == [
        "claude-sonnet-5-5 (default)  current",
        "claude-opus-5-5              current",
        "claude-haiku-5-5             current",
        "claude-opus-5                current",
        "claude-opus-4-5              deprecated, end of life 2027-01-22",
        "claude-sonnet-4-5            retired on 2026-11-30",
        "claude-2.1                   retired on 2025-07-21",
    ]
    assert data["models"][0] == {
        "model": "claude-sonnet-5-5",
        "state": "current",
        "end_of_life": None,
        "default": True,
    }
    assert data["models"][5]["end_of_life"] == "2026-11-30"


def test_pause_resume_archive_and_tasks(acme: Run) -> None:
    assert acme("agent", "pause", "sdr-emea", "--json").json()["agent"]["status"] == "paused"
    assert acme("agent", "resume", "sdr-emea", "--json").json()["agent"]["status"] == "active"
    added = acme(
        "task", "add", "sdr-emea", "Draft outreach to Northwind Health", "--by", "U0001", "--json"
    )
    assert added.json()["task"]["agent"] == "sdr-emea"
    assert "Northwind" in acme("agent", "show", "sdr-emea").out
    acme("coach", "sdr-emea", "Old pitch", "--by", "U0001")
    assert acme("memory", "archive", "1", "--by", "U0002").code == 3
    assert acme("memory", "archive", "1", "--by", "U0001").code == 0
    assert acme("memory", "list", "--json").json()["blocks"] == []
    assert acme("memory", "list", "--status", "archived", "--json").json()["blocks"][0]["id"] == 1


def test_workspace_must_be_named_when_there_are_several(acme: Run) -> None:
    acme("workspace", "create", "T0002", "--name", "Globex")
    result = acme("agent", "list")
    assert result.code == 2 and "--workspace" in result.err
    assert (
        acme("agent", "list", "--workspace", "T0001", "--json").json()["agents"][0]["handle"]
        == "sdr-emea"
    )
    assert acme("agent", "list", "--workspace", "T0002", "--json").json()["agents"] == []


def test_an_unmigrated_database_says_how_to_fix_it(tmp_path: Path) -> None:
    env = {**os.environ, "SALESBRAIN_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"}
    script = Path(sys.executable).with_name("salesbrain")
    result = subprocess.run(
        [str(script), "agent", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "salesbrain db upgrade" in result.stderr
    assert "Traceback" not in result.stderr
    upgraded = subprocess.run(
        [str(script), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60
    )
    assert upgraded.returncode == 0, upgraded.stderr


def test_a_member_cannot_give_an_agent_a_task_as_in_slack_and_the_refusal_is_audited(
    acme: Run,
) -> None:
    refused = acme("task", "add", "sdr-emea", "Call Dana", "--by", "U0002")
    assert refused.code == 3
    assert "may not give sdr-emea a task" in refused.err
    assert acme("task", "list", "--json").json()["tasks"] == []
    given = acme("task", "add", "sdr-emea", "Call Dana", "--by", "U0001", "--json")
    assert given.code == 0 and given.json()["task"]["agent"] == "sdr-emea"
    assert acme("task", "add", "sdr-emea", "Call Dana again").code == 0  # the operator
    events = acme("audit", "--json").json()["events"]
    tasks = [(e["actor"], e["outcome"]) for e in events if e["action"] == "task.add"]
    assert tasks == [("system:operator", "ok"), ("member:U0001", "ok"), ("member:U0002", "refused")]
