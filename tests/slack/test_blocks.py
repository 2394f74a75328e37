"""The Block Kit renderers are pure and stay within Slack's limits, whatever the data."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import blocks
from core.home import AgentLine, BrainLine, Home


def agent(i: int) -> AgentLine:
    return AgentLine(
        handle=f"sdr-{i}",
        name="Sam <@channel> & co",
        role="sdr",
        team="emea",
        status="active",
        model="claude-sonnet-5-5",
        last_cycle_at=None,
        next_run_at=datetime(2026, 11, 25, 14, 5, tzinfo=UTC),
        open_tasks=i,
        model_warning=None,
    )


def brain(i: int) -> BrainLine:
    return BrainLine(i, "team", "emea", "pattern", "x" * 10_000, 0.7, i)


def texts(rendered: list[dict[str, object]]) -> list[str]:
    found = []
    for block in rendered:
        text = block.get("text")
        if isinstance(text, dict):
            found.append(str(text["text"]))
    return found


def test_a_long_agent_list_fits_in_one_message_with_a_pointer_to_the_rest() -> None:
    message = blocks.agents_message([agent(i) for i in range(80)])

    assert len(message["blocks"]) == blocks.MESSAGE_BLOCKS
    assert message["blocks"][-1]["type"] == "context"
    assert "salesbrain agent list" in message["blocks"][-1]["elements"][0]["text"]


def test_text_from_people_is_escaped_and_sections_are_clipped() -> None:
    home = Home(
        workspace="Acme",
        role="manager",
        agents=[agent(1)],
        more_agents=0,
        team_blocks=[brain(1)],
        company_blocks=[],
        coaching=[brain(2)],
        is_coach=True,
    )
    view = blocks.home_view(home)

    shown = texts(view["blocks"])
    assert all(len(text) <= blocks.SECTION_LIMIT for text in shown)
    assert any("Sam &lt;@channel&gt; &amp; co" in text for text in shown)
    assert not any("<@channel>" in text for text in shown)
    assert "informed 2 cycles" in "\n".join(shown)
    assert len(view["blocks"]) <= blocks.VIEW_BLOCKS


def test_times_render_in_the_readers_time_zone_with_a_fallback() -> None:
    moment = datetime(2026, 11, 25, 14, 5, tzinfo=UTC)
    assert blocks.when(moment) == (
        f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|2026-11-25 14:05 UTC>"
    )
    assert blocks.when(None) == "never"
