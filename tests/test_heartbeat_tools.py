"""Typed tool calls: validated inputs, refusals with a reason, each call recorded."""

from __future__ import annotations

from dataclasses import replace

from core.heartbeat.tools import (
    BlockFacts,
    CallStatus,
    Standing,
    Toolbox,
    tool_definitions,
)
from core.models import AgentRole, BlockStatus, Tier

EMEA, AMER = 1, 2
BLOCKS = {
    10: BlockFacts(10, Tier.PERSONAL, BlockStatus.ACTIVE, EMEA, "emea", False),
    11: BlockFacts(11, Tier.PERSONAL, BlockStatus.ACTIVE, AMER, "amer", False),
    12: BlockFacts(12, Tier.TEAM, BlockStatus.ACTIVE, EMEA, "emea", False),
    13: BlockFacts(13, Tier.PERSONAL, BlockStatus.ARCHIVED, EMEA, "emea", False),
    14: BlockFacts(14, Tier.PERSONAL, BlockStatus.ACTIVE, EMEA, "emea", True),
}


def _toolbox(role: AgentRole = AgentRole.SDR, handle: str = "sdr-emea") -> Toolbox:
    standing = Standing(
        refreshable_ids=frozenset({12}),
        promotable_ids=frozenset({10, 11, 12, 13, 14, 99}),
        agent_id=1,
        handle=handle,
        role=role,
        team_id=EMEA,
        team_slug="emea",
        teammates={"ae-emea": "account_executive", "dir-emea": "director"},
        open_task_ids=frozenset({3, 5}),
    )
    return Toolbox(standing, BLOCKS.get)


def _refusal(toolbox: Toolbox, name: str, **arguments: object) -> str:
    call = toolbox.call(name, arguments)
    assert call.status == CallStatus.REFUSED, call
    return call.result


def test_valid_calls_are_accepted_and_kept_for_the_write() -> None:
    toolbox = _toolbox()
    toolbox.call(
        "record_learning", {"content": "Healthcare CTOs answer Tuesdays", "importance": 0.6}
    )
    toolbox.call("handoff_task", {"to_agent": "ae-emea", "title": "Follow up Dana"})
    toolbox.call("complete_task", {"task_id": 3, "outcome": "Sent the compliance deck"})
    toolbox.call("finish_cycle", {"summary": "Done", "actions": ["a", "b"]})
    assert [c.status for c in toolbox.calls] == [CallStatus.ACCEPTED] * 4
    assert toolbox.finished and toolbox.report is not None
    assert toolbox.report.actions == ["a", "b"]


def test_importance_above_the_inference_band_is_refused() -> None:
    assert "importance" in _refusal(_toolbox(), "record_learning", content="x", importance=0.9)


def test_a_handoff_to_an_unknown_or_other_teams_agent_is_refused() -> None:
    toolbox = _toolbox()
    assert "teammates: ae-emea, dir-emea" in _refusal(
        toolbox, "handoff_task", to_agent="sdr-amer", title="t"
    )
    assert "not to yourself" in _refusal(toolbox, "handoff_task", to_agent="sdr-emea", title="t")


def test_completing_a_task_that_is_not_open_for_the_agent_is_refused() -> None:
    toolbox = _toolbox()
    assert "open: 3, 5" in _refusal(toolbox, "complete_task", task_id=9, outcome="done")
    toolbox.call("complete_task", {"task_id": 3, "outcome": "done"})
    assert "already completed" in _refusal(toolbox, "complete_task", task_id=3, outcome="again")


def test_only_directors_propose_promotions_and_only_of_their_own_teams_active_blocks() -> None:
    assert "only director agents" in _refusal(
        _toolbox(), "propose_promotion", block_id=10, reason="strong"
    )
    director = _toolbox(AgentRole.DIRECTOR, "dir-emea")
    assert "belongs to team amer" in _refusal(
        director, "propose_promotion", block_id=11, reason="r"
    )
    assert "team brain already" in _refusal(director, "propose_promotion", block_id=12, reason="r")
    assert "archived" in _refusal(director, "propose_promotion", block_id=13, reason="r")
    assert "already on the team brain" in _refusal(
        director, "propose_promotion", block_id=14, reason="r"
    )
    assert "not found" in _refusal(director, "propose_promotion", block_id=99, reason="r")
    assert (
        director.call("propose_promotion", {"block_id": 10, "reason": "r"}).status
        == CallStatus.ACCEPTED
    )


def test_a_director_proposes_only_the_blocks_its_review_lists_as_candidates() -> None:
    director = _toolbox(AgentRole.DIRECTOR, "dir-emea")
    director.standing = replace(director.standing, promotable_ids=frozenset())
    assert "not one of this cycle's promotion candidates" in _refusal(
        director, "propose_promotion", block_id=10, reason="an email told me to"
    )


def test_only_directors_refresh_team_copies_and_only_those_listed_to_refresh() -> None:
    assert "only director agents" in _refusal(_toolbox(), "refresh_team_copy", block_id=12)
    director = _toolbox(AgentRole.DIRECTOR, "dir-emea")
    assert "not a team brain copy to refresh (listed: 12)" in _refusal(
        director, "refresh_team_copy", block_id=10
    )
    assert director.call("refresh_team_copy", {"block_id": 12}).status == CallStatus.ACCEPTED
    assert "already refreshed" in _refusal(director, "refresh_team_copy", block_id=12)


def test_malformed_and_unknown_calls_are_refused_with_the_reason() -> None:
    toolbox = _toolbox()
    assert "unknown tool 'delete_memory'" in _refusal(toolbox, "delete_memory")
    assert "extra" in _refusal(toolbox, "finish_cycle", summary="s", secret="x").lower()
    assert "task_id" in _refusal(toolbox, "complete_task", task_id="three", outcome="o")
    toolbox.call("finish_cycle", {"summary": "s"})
    assert "already finished" in _refusal(toolbox, "finish_cycle", summary="again")


def test_the_team_upkeep_tools_are_offered_to_directors_only() -> None:
    offered = {t["name"] for t in tool_definitions(AgentRole.SDR)}
    assert "propose_promotion" not in offered and "refresh_team_copy" not in offered
    assert "record_learning" in offered
    director = {t["name"]: t for t in tool_definitions(AgentRole.DIRECTOR)}
    assert {"propose_promotion", "refresh_team_copy"} <= director.keys()
    schema = director["record_learning"]["input_schema"]
    assert schema["properties"]["importance"]["maximum"] == 0.7
    assert set(schema["required"]) == {"content", "importance"}


def test_a_director_coaches_teammates_only_within_the_days_limit() -> None:
    director = _toolbox(AgentRole.DIRECTOR, "dir-emea")
    director.standing = replace(
        director.standing,
        teammates={"sdr-emea": "sdr", "ae-emea": "account_executive"},
        notes_today={"sdr-emea": 1},
    )
    note = {"note": "Ask a question in the subject", "evidence": "finding block 10"}

    coached = director.call("coach_agent", {"agent": "@ae-emea", **note})
    assert coached.status is CallStatus.ACCEPTED
    again = _refusal(director, "coach_agent", agent="ae-emea", **note)
    assert "at most 1 per agent per day" in again
    assert "already has 1" in _refusal(director, "coach_agent", agent="sdr-emea", **note)
    assert "not an agent of team emea" in _refusal(
        director, "coach_agent", agent="sdr-amer", **note
    )
    assert "not yourself" in _refusal(director, "coach_agent", agent="dir-emea", **note)
    assert "evidence" in _refusal(director, "coach_agent", agent="ae-emea", note="x")
    assert "only director agents" in _refusal(_toolbox(), "coach_agent", agent="ae-emea", **note)


def test_coach_agent_is_offered_to_directors_only() -> None:
    assert "coach_agent" in {t["name"] for t in tool_definitions(AgentRole.DIRECTOR)}
    assert "coach_agent" not in {t["name"] for t in tool_definitions(AgentRole.SDR)}
