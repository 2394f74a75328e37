"""Block Kit for what needs a person's hand: reports that cannot be delivered, and memory
gone stale. Pure functions, data in and blocks out, within Slack's limits (bot/blocks.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot import blocks
from bot.blocks import Block, Message, escape, header, note, section, when
from core.heartbeat.blocked import Problem
from core.home import Home

# Blocks of the App Home each section may take (a view holds 100 in all).
MAX_PROBLEMS = 8


def _where(problem: Problem) -> str:
    return f"<#{problem.channel}>" if problem.channel else problem.destination


def problem_notice(problem: Problem) -> Message:
    """The one direct message that tells a manager why reports stopped, and the fix."""
    agents = ", ".join(problem.agents) or "no agent any more"
    waiting = f"{problem.waiting} report{'s' if problem.waiting != 1 else ''}"
    return {
        "text": f"Reports to {_where(problem)} cannot be delivered: {problem.fix}",
        "blocks": [
            section(
                f":warning: *Reports to {_where(problem)} cannot be delivered* "
                f"(Slack: `{problem.error}`).\n*Fix:* {problem.fix}."
            ),
            note(
                f"{waiting} of {escape(agents)} wait and will be posted in order once it is "
                "fixed. You are told once; the App Home shows the state."
            ),
        ],
    }


def delivery_section(problems: Sequence[Problem]) -> list[Block]:
    """The App Home's delivery state: each destination that takes no reports, and its fix.
    Nothing when every report arrives."""
    if not problems:
        return []
    shown: list[Block] = [header("Reports not delivered")]
    for problem in problems[:MAX_PROBLEMS]:
        shown.append(
            section(
                f":warning: *{escape(', '.join(problem.agents) or problem.destination)}* → "
                f"{_where(problem)} · Slack: `{problem.error}` since {when(problem.since)} · "
                f"{problem.waiting} waiting\n*Fix:* {problem.fix}"
            )
        )
    if len(problems) > MAX_PROBLEMS:
        shown.append(note(f"and {len(problems) - MAX_PROBLEMS} more: `salesbrain outbox list`"))
    return shown


def home_view(home: Home) -> dict[str, Any]:
    """The App Home tab (bot/blocks.py), with what needs a person's hand: the reports that
    cannot be delivered first, then memory gone stale."""
    view = blocks.home_view(home)
    top, rest = view["blocks"][:2], view["blocks"][2:]
    body = [*top, *delivery_section(home.deliveries), *rest]
    return {**view, "blocks": blocks.fit(body, blocks.VIEW_BLOCKS, "More: `/brain agents`.")}
