"""`salesbrain heartbeat`, `cycles list|show` and `demo` as a user runs them."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.demo import run_demo
from core.db import make_engine, unit_of_work
from core.models import MemoryBlock, SourceKind
from core.restatements import restates
from tests.test_cli import Run, run  # noqa: F401  (fixtures)


@pytest.fixture
def team(run: Run) -> Run:  # noqa: F811
    for args in [
        ("workspace", "create", "T0001", "--name", "Acme"),
        ("team", "create", "emea", "--name", "EMEA Sales"),
        ("member", "set", "U0001", "--role", "manager", "--team", "emea"),
        ("agent", "create", "sdr-emea", "--team", "emea", "--role", "sdr"),
        ("agent", "create", "ae-emea", "--team", "emea", "--role", "account_executive"),
        ("agent", "create", "dir-emea", "--team", "emea", "--role", "director", "--channel", "C01"),
        ("coach", "sdr-emea", "Lead with compliance for healthcare CTOs", "--by", "U0001"),
        ("task", "add", "sdr-emea", "Reply from Dana: interested in a demo"),
    ]:
        result = run(*args)
        assert result.code == 0, (args, result.err)
    return run


def test_heartbeat_once_runs_the_due_agents_and_prints_their_reports(team: Run) -> None:
    result = team("heartbeat", "--once")
    assert result.code == 0, result.err
    assert len(re.findall(r"^cycle \d+ \S+ succeeded in \d+ ms", result.out, re.M)) == 3
    assert "sdr-emea · cycle" in result.out  # its report, printed: it has no channel
    assert "dir-emea · cycle" not in result.out  # its report waits for Slack
    assert "1 report(s) wait in the outbox" in result.out

    listed = team("cycles", "list", "--json").json()["cycles"]
    assert {c["agent"] for c in listed} == {"sdr-emea", "ae-emea", "dir-emea"}
    assert {"id", "agent", "status", "model", "backend", "started_at"} <= set(listed[0])
    assert {c["backend"] for c in listed} == {"offline"}
    assert team("heartbeat", "--once").out.count("succeeded") == 0  # nothing due any more


def test_heartbeat_for_one_agent_runs_it_now_even_when_not_due(team: Run) -> None:
    assert team("heartbeat", "--agent", "sdr-emea").code == 0
    again = team("heartbeat", "--agent", "sdr-emea")
    assert again.code == 0, again.err
    assert len(team("cycles", "list", "--agent", "sdr-emea", "--json").json()["cycles"]) == 2
    assert team("heartbeat", "--agent", "nobody").code == 4


def test_cycles_show_explains_what_shaped_the_cycle(team: Run) -> None:
    team("heartbeat", "--agent", "sdr-emea")
    [cycle] = team("cycles", "list", "--json").json()["cycles"]
    shown = team("cycles", "show", str(cycle["id"]))
    assert shown.code == 0, shown.err
    assert re.search(
        r"#1 coaching \(personal\) score 0\.\d\d: importance 0\.90, recency", shown.out
    )
    assert "complete_task [applied]" in shown.out
    assert "handoff_task [applied] ok: task 2 handed to ae-emea" in shown.out
    detail = team("cycles", "show", str(cycle["id"]), "--json").json()["cycle"]
    assert detail["context"]["blocks"][0]["id"] == 1
    assert [c["name"] for c in detail["tool_calls"]] == [
        "complete_task",
        "handoff_task",
        "finish_cycle",
    ]
    missing = team("cycles", "show", "999")
    assert (missing.code, missing.err.strip()) == (4, "error: cycle 999 not found")
    assert team("cycles", "show", "abc").code == 2


def test_the_anthropic_backend_without_a_key_is_a_clear_error(
    team: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.settings import get_settings

    monkeypatch.setenv("SALESBRAIN_LLM", "anthropic")
    get_settings.cache_clear()
    result = team("heartbeat", "--once")
    assert result.code == 2
    assert "ANTHROPIC_API_KEY" in result.err


def test_the_demo_tells_what_the_memory_did(tmp_path: Any) -> None:
    out = io.StringIO()
    database = run_demo(out, days=3, path=str(tmp_path / "demo.db"))
    text = out.getvalue()
    assert str(database) in text and database.exists()
    assert "=== What the memory did ===" in text
    informed = re.search(r"#1 to sdr-emea by U0MAYA: informed (\d+) cycles", text)
    assert informed and int(informed.group(1)) >= 3
    assert re.search(r"task \d+ sdr-emea -> ae-emea: Follow up: Reply from Dana", text)
    assert "which reaches end of life on 2026-11-30" in text  # ads-emea's model, day 1
    # Day 2: the model's state on the simulated day, a replay on the new model, the upgrade.
    assert "ads-emea runs on claude-sonnet-4-5: deprecated, end of life 2026-11-30" in text
    assert re.search(
        r"salesbrain cycles replay \d+ --model claude-sonnet-5-5: (\d+) tool calls as cycle "
        r"\d+ made \1, over the same \d+ memory blocks?; nothing written",
        text,
    )
    # No learning echoes a hand-off or copies a finding: the SDR confirms the finding.
    assert "After I handed on" not in text and 'Write "question" subject lines:' not in text
    assert re.search(r"#\d+ sdr-emea \(informed \d+ cycles?\), confirmed in \d+ cycles?: ", text)
    assert re.search(r"Promoted to the Team Brain:\n  #\d+ from #\d+ by dir-emea", text)
    # Day 3: new signals move the finding; the director brings the Team Brain's copy along.
    assert re.search(r"  - refreshed team brain block \d+ from its finding\n", text)
    assert "by dir-emea, refreshed by dir-emea when its finding moved" in text
    assert re.search(
        r"ads-emea ran \d+ cycles on claude-sonnet-4-5 and \d+ cycles on claude-sonnet-5-5", text
    )
    assert re.search(r"ads-emea's memory: (1 personal.*) before the upgrade, \1 after", text)
    # The SDR's emails, tied to their cycles, answer with the planted compliance effect.
    assert re.search(r"Results of sdr-emea's 60 emails from cycles? [\d, ]+ arrive", text)
    measured = re.search(
        r"sends written with coaching #1: (\d+\.\d)% reply, n=(\d+) \(95% CI [^)]+\), "
        r"vs (\d+\.\d)% before it, n=(\d+)\. With the note: better than before it\.",
        text,
    )
    assert measured and float(measured.group(1)) > 2 * float(measured.group(3))
    assert int(measured.group(2)) >= 300
    digest = text[text.index("=== The weekly digest (salesbrain digest --team emea) ===") :]
    assert "Coaching that moved a metric:\n  - #1 to sdr-emea: sends written with" in digest
    _no_echo_or_frozen_copy(database)


def _no_echo_or_frozen_copy(database: Path) -> None:
    """No learning an agent wrote echoes a hand-off or restates a finding (a frozen copy)."""
    engine = make_engine(f"sqlite:///{database}")
    try:
        with unit_of_work(engine, readonly=True) as session:
            blocks = list(session.scalars(select(MemoryBlock)))
    finally:
        engine.dispose()
    findings = [b.content.lower() for b in blocks if b.source_kind is SourceKind.SIGNAL_ANALYSIS]
    learned = [b.content.lower() for b in blocks if b.source_kind is SourceKind.AGENT_CYCLE]
    assert findings
    for content in learned:
        assert "handed on" not in content and "reported:" not in content
        assert not any(restates(content, finding, quoted_whole_counts=True) for finding in findings)


def test_cycles_replay_prints_both_cycles_side_by_side_and_writes_nothing(team: Run) -> None:
    team("heartbeat", "--agent", "sdr-emea")
    before = (team("memory", "list", "--json").out, team("cycles", "list", "--json").out)

    result = team("cycles", "replay", "1", "--model", "claude-opus-5-5")

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == (
        "cycle 1 of sdr-emea, replayed over the same 1 memory block; nothing was written"
    )
    assert re.search(r"^model +claude-sonnet-5-5 \(offline\) +claude-opus-5-5 \(offline\)$",
                     result.out, re.M)  # fmt: skip
    assert re.search(r"^tool calls +3 +3$", result.out, re.M)
    assert re.search(r"^tokens +0 in, 0 out +0 in, 0 out$", result.out, re.M)
    assert "\ncycle 1 on claude-sonnet-5-5:\n  complete_task (applied) task 1:" in result.out
    assert "\nreplay on claude-opus-5-5:\n  complete_task (accepted) task 1:" in result.out
    data = team("cycles", "replay", "1", "--model", "claude-opus-5-5", "--json").json()["replay"]
    assert (data["cycle"], data["written"], data["replay"]["model"]) == (
        1,
        False,
        "claude-opus-5-5",
    )
    assert {"tool_calls", "learnings", "tokens", "duration_ms"} <= set(data["original"])
    assert (team("memory", "list", "--json").out, team("cycles", "list", "--json").out) == before


def test_cycles_replay_refuses_bad_input_in_one_line(team: Run) -> None:
    team("heartbeat", "--agent", "sdr-emea")
    unknown = team("cycles", "replay", "1", "--model", "gpt-4")
    retired = team("cycles", "replay", "1", "--model", "claude-sonnet-4-5")
    missing = team("cycles", "replay", "99", "--model", "claude-opus-5-5")
    no_model = team("cycles", "replay", "1")
    assert (unknown.code, retired.code, missing.code, no_model.code) == (2, 2, 4, 2)
    assert unknown.err.startswith("error: model: gpt-4 is not a model this installation knows")
    assert retired.err.startswith("error: model: claude-sonnet-4-5 was retired on 2026-11-30")
    assert missing.err == "error: cycle 99 not found\n"
    for result in (unknown, retired, missing, no_model):
        assert result.out == "" and len(result.err.splitlines()) == 1
