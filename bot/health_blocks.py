"""Block Kit for what needs a person's hand: reports that cannot be delivered, and memory
gone stale. Pure functions, data in and blocks out, within Slack's limits (bot/blocks.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot import blocks
from bot.blocks import Block, Message, escape, header, note, section, when
from core.health import ARCHIVE, MERGE, PER_KIND, REFRESH, Health, HealthItem
from core.heartbeat.blocked import Problem
from core.home import Home

# Blocks of the App Home each section may take (a view holds 100 in all).
MAX_PROBLEMS = 8
MAX_HEALTH_ITEMS = 20

# The App Home's one-click memory health actions (their value: the block id; a merge's:
# "KEEP:DROP").
HEALTH_ACTIONS = {ARCHIVE: "health_archive", REFRESH: "health_refresh", MERGE: "health_merge"}
KINDS = {
    "conflict": "Conflicting coaching",
    "duplicate": "Coaching said twice",
    "stale_copy": "Copy of a finding that moved on",
    "superseded_copy": "Copy of a superseded block",
    "stale_coaching": "Coaching past its validity",
    "unused": "Never surfaced",
}


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


def health_section(health: Health) -> list[Block]:
    """The App Home's memory health: each item with its one-click action (only for those who
    may tidy: managers and admins), the first MAX_HEALTH_ITEMS of them and "and N more"."""
    if not health.may_tidy:
        return []
    shown: list[Block] = [blocks.divider(), header("Memory health")]
    if not health.items:
        return [*shown, section("Nothing stale: every block earns its place.")]
    counts = " · ".join(
        f"{KINDS[kind]}: {count}{'+' if count >= PER_KIND else ''}"
        for kind, count in health.counts.items()
        if count
    )
    shown.append(note(counts))
    shown += [_health_item(item) for item in health.items[:MAX_HEALTH_ITEMS]]
    if len(health.items) > MAX_HEALTH_ITEMS:
        left = len(health.items) - MAX_HEALTH_ITEMS
        shown.append(note(f"and {left} more: `salesbrain memory health`"))
    return shown


def _health_item(item: HealthItem) -> Block:
    value = f"{item.other_id}:{item.block_id}" if item.action == MERGE else str(item.block_id)
    label = {ARCHIVE: "Archive", REFRESH: "Refresh", MERGE: f"Merge into {item.other_id}"}
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": label[item.action]},
        "action_id": HEALTH_ACTIONS[item.action],
        "value": value,
    }
    return section(
        f"*{KINDS[item.kind]}* · block {item.block_id} · {escape(item.owner)}\n"
        f"{escape(blocks.clip(item.content, 300))}\n_{escape(blocks.clip(item.reason, 500))}_",
        button,
    )


def home_view(home: Home, notice: str | None = None) -> dict[str, Any]:
    """The App Home tab (bot/blocks.py), with what needs a person's hand: the reports that
    cannot be delivered first, memory gone stale last; `notice` (what became of a click)
    on top."""
    view = blocks.home_view(home)
    top, rest = view["blocks"][:2], view["blocks"][2:]
    told = [section(escape(notice))] if notice else []
    body = [*top, *told, *delivery_section(home.deliveries), *rest, *health_section(home.health)]
    return {**view, "blocks": blocks.fit(body, blocks.VIEW_BLOCKS, "More: `/brain agents`.")}
