"""Block Kit renderers: pure functions from domain data to Slack messages and views.

Everything rendered stays within Slack's limits: 3,000 characters in a section, 150 in a
header, 50 blocks in a message and 100 in a modal or home tab. Text that came from people
or prospects is escaped, so that it can never mention @channel or forge a link.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.ask import Answer
from core.coaching import Coaching
from core.context import AssembledContext
from core.errors import DomainError
from core.heartbeat.records import CycleView
from core.heartbeat.replay import call_line
from core.heartbeat.report import standing_order_lines, usage_line
from core.heartbeat.tools import CallStatus
from core.home import AgentLine, BrainLine, Home
from core.models import CycleStatus, ProposalKind, ProposalStatus
from core.pricing import dollars
from core.proposals import DirectorSettings, ProposalView
from core.usage import Bill, BillLine

SECTION_LIMIT = 3000
HEADER_LIMIT = 150
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
OPTION_LIMIT = 100
NOTE_LIMIT = 3000  # the longest plain-text input Slack offers

Block = dict[str, Any]
Message = dict[str, Any]

COACH_MODAL = "coach_modal"
COACH_BUTTON = "coach_agent"
COACH_TYPES = ("coaching", "objection_response", "account_context", "pattern")
# The buttons on a director's proposal; each carries the proposal id as its value.
APPROVE_BUTTON, REJECT_BUTTON, RETRACT_BUTTON = (
    "proposal_approve",
    "proposal_reject",
    "proposal_retract",
)

BRAIN_HELP = [
    ("/coach @agent <note>", "coach an agent (no text: a form)"),
    ("/brain agents", "the workspace's agents"),
    ("/brain show @agent [query]", "the memory the agent would see, with each score"),
    ("/brain why <cycle>", "what a cycle's agent saw, and why"),
    ("/brain run @agent", "run the agent's cycle now; the report follows"),
    ("/brain replay <cycle> <model>", "the cycle again on another model; writes nothing"),
    ("/brain promote <block> [team|company]", "promote a block (team by default)"),
    ("/brain forget <block>", "archive a block: it never surfaces again"),
    ("/brain refresh <block>", "bring a promoted copy up to date with its original"),
    ("/brain company <text>", "write company knowledge (admins)"),
    ("/brain task @agent <text>", "give an agent a task"),
    ("/brain role @user admin|manager|member [team ...]", "set a role (admins)"),
    ("/brain emoji <name>", "the reaction that promotes a learning (admins)"),
    ("/brain autonomy [propose|apply]", "whether directors' actions wait for a manager (admins)"),
]


def escape(text: str) -> str:
    """Slack's three control characters, so that text is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str, accessory: Block | None = None) -> Block:
    block: Block = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)},
    }
    if accessory is not None:
        block["accessory"] = accessory
    return block


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, HEADER_LIMIT)}}


def note(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}]}


def divider() -> Block:
    return {"type": "divider"}


def fit(blocks: list[Block], limit: int, pointer: str) -> list[Block]:
    """At most `limit` blocks; what does not fit is replaced by a pointer to the rest."""
    if len(blocks) <= limit:
        return blocks
    return [*blocks[: limit - 1], note(pointer)]


def when(moment: datetime | None, missing: str = "never") -> str:
    """A time each reader sees in their own time zone."""
    if moment is None:
        return missing
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def line(text: str) -> Message:
    """A one-line reply."""
    return {"text": clip(text, SECTION_LIMIT)}


def error_text(error: Exception) -> str:
    """What the person who asked is told about an error, in one line: a domain error's own
    words; for anything else, that it failed (the details stay in the log)."""
    if isinstance(error, DomainError):
        return " ".join(error.message.split())
    return "salesbrain could not do that: an internal error (the details are in its log)"


def coached(coaching: Coaching) -> Message:
    """The confirmation of a coaching note: its block and who it reaches."""
    block, agent, _ = coaching
    return line(
        f"Stored block {block.id} ({block.type.value}, importance {block.importance:.2f}) on "
        f"{agent.handle}'s Personal Brain. It reaches {agent.handle} only, from its next cycle "
        f"({when(agent.next_run_at, 'not scheduled')})."
    )


def promoted(original_id: int, block_id: int, tier: str, team: str | None) -> Message:
    reach = f"every agent of team {team}" if team else "every agent of the workspace"
    return line(
        f"Block {original_id} promoted to the {tier.capitalize()} Brain as block {block_id}: "
        f"{reach} sees it from its next cycle."
    )


def help_message() -> Message:
    rows = "\n".join(f"`{usage}`  {what}" for usage, what in BRAIN_HELP)
    return {"text": "salesbrain commands", "blocks": [section("*salesbrain*\n" + rows)]}


def agents_message(agents: Sequence[AgentLine]) -> Message:
    if not agents:
        return line("No agents yet: create one with `salesbrain agent create`.")
    blocks = [header("Agents")]
    blocks += [section(_agent_text(agent)) for agent in agents]
    return {
        "text": f"{len(agents)} agents",
        "blocks": fit(blocks, MESSAGE_BLOCKS, "More agents: `salesbrain agent list`."),
    }


def _agent_text(agent: AgentLine) -> str:
    text = (
        f"*{escape(agent.handle)}* ({escape(agent.name)}) · {agent.role} · team {agent.team} · "
        f"{agent.status} · {agent.model}\n"
        f"last cycle {when(agent.last_cycle_at)} · open tasks {agent.open_tasks} · "
        f"next run {when(agent.next_run_at, 'not scheduled')}"
    )
    if agent.model_warning:
        text += f"\n:warning: {escape(agent.model_warning)}"
    return text


def _brain_text(block: BrainLine, *, usage: bool = False) -> str:
    used = f" · informed {block.times_surfaced} cycles" if usage else ""
    return (
        f"*{block.id}* · {block.type} · {escape(block.owner)} · importance "
        f"{block.importance:.2f}{used}\n{escape(clip(block.content, 500))}"
    )


def home_view(home: Home) -> dict[str, Any]:
    """The App Home tab."""
    blocks: list[Block] = [
        header(f"salesbrain · {home.workspace}"),
        note(f"You are {home.role} here. `/brain help` lists the commands."),
        header("Agents"),
    ]
    coach = {"type": "button", "text": {"type": "plain_text", "text": "Coach"}}
    for agent in home.agents:
        button = {**coach, "action_id": COACH_BUTTON, "value": agent.handle}
        blocks.append(section(_agent_text(agent), button if home.is_coach else None))
    if not home.agents:
        blocks.append(section("No agents yet."))
    if home.more_agents:
        blocks.append(note(f"and {home.more_agents} more: `/brain agents`"))
    for title, lines in (("Team Brain", home.team_blocks), ("Company Brain", home.company_blocks)):
        blocks += [divider(), header(title)]
        blocks += [section(_brain_text(b)) for b in lines] or [section("Nothing here yet.")]
    if home.is_coach:
        blocks += _your_coaching(home)
    if home.spend is not None:
        blocks += spend_section(home.spend)
    return {"type": "home", "blocks": fit(blocks, VIEW_BLOCKS, "More: `/brain agents`.")}


def spend_section(bill: Bill) -> list[Block]:
    """The App Home's "Spend this week": each team's cycles, tokens, cache share and cost."""
    blocks: list[Block] = [divider(), header("Spend this week")]
    if not bill.lines:
        return [*blocks, section("No cycles yet this week.")]
    lines = [f"*{escape(line.name)}* · {_spend_text(line)}" for line in bill.lines]
    if len(bill.lines) > 1:
        lines.append(f"*all* · {_spend_text(bill.total)}")
    blocks.append(section("\n".join(lines)))
    blocks.append(note(f"since {when(bill.since)} · `salesbrain usage --by agent` for each agent"))
    return blocks


def _spend_text(line: BillLine) -> str:
    if line.cycles == line.offline_cycles:
        return f"{line.cycles} cycles · offline: no tokens billed"
    unpriced = f" (+{line.unpriced_cycles} cycles unpriced)" if line.unpriced_cycles else ""
    return (
        f"{line.cycles} cycles · {dollars(line.cost_usd)}{unpriced} · "
        f"{line.prompt_tokens:,} tokens in, {line.cache_share:.0%} from cache"
    )


def _your_coaching(home: Home) -> list[Block]:
    """A manager's coaching notes: how often each surfaced, and what it did to the replies."""
    blocks: list[Block] = [divider(), header("Your coaching")]
    for line in home.coaching:
        blocks.append(section(_brain_text(line, usage=True)))
        measured = home.coaching_impact.get(line.id)
        if measured:
            blocks.append(note(escape(clip(measured, 1500))))
    if not home.coaching:
        blocks.append(section("You have not coached yet: `/coach @agent <note>`."))
    return blocks


def context_message(assembled: AssembledContext) -> Message:
    """The blocks an agent would see for a task, best first, with the parts of each score."""
    blocks: list[Block] = [
        header(f"What {assembled.agent} would see"),
        note(
            f"for: {escape(clip(assembled.task, 300))} · score: relevance, moved by importance "
            "and recency"
        ),
    ]
    for rank, block in enumerate(assembled.blocks, start=1):
        origin = " · _from outside: data, not instructions_" if block.from_outside else ""
        blocks.append(
            section(
                f"*{rank}.* block {block.id} · {block.tier.value} · {block.type.value} · "
                f"*{block.score:.2f}* · importance {block.importance:.2f} · recency "
                f"{block.recency:.2f} · relevance {block.relevance:.2f}"
                f"{''.join(f' · _{reason}_' for reason in block.reasons())}{origin}\n"
                f"{escape(clip(block.content, 1500))}"
            )
        )
    if not assembled.blocks:
        blocks.append(section("Nothing in this agent's memory yet."))
    blocks.append(note(f"{len(assembled.blocks)} blocks, {assembled.tokens} tokens"))
    return {
        "text": f"What {assembled.agent} would see",
        "blocks": fit(blocks, MESSAGE_BLOCKS, "More: `salesbrain context`."),
    }


def answer_message(answer: Answer) -> Message:
    """An answer of the brain: its words in sections of at most 3,000 characters, the
    records it cites, and a line saying so when Slack's limits cut it."""
    blocks: list[Block] = [header(answer.title)]
    sections, cut = _sections(escape(answer.text))
    blocks.extend(section(text) for text in sections)
    if answer.records:
        cited = " · ".join(f"`{record.ref}`" for record in answer.records)
        blocks.append(note(f"Cited: {cited}"))
    blocks.extend(note(escape(text)) for text in answer.notes)
    written = (
        "the model, from these records only" if answer.written_by != "offline" else "salesbrain"
    )
    blocks.append(note(f"Written by {written}. Read only: nothing was changed."))
    if cut:
        blocks.append(note(ANSWER_CUT))
    return {
        "text": clip(answer.title, SECTION_LIMIT),
        "blocks": fit(blocks, MESSAGE_BLOCKS, ANSWER_CUT),
    }


ANSWER_CUT = (
    "Cut: the answer is longer than one Slack message holds. Ask about one agent, one cycle "
    "or a shorter period for the rest."
)


def _sections(text: str, limit: int = SECTION_LIMIT) -> tuple[list[str], bool]:
    """The text in pieces of whole lines within `limit` characters (a longer line is cut);
    True when something was cut."""
    pieces: list[str] = []
    cut = False
    for line in text.splitlines() or [""]:
        if len(line) > limit:
            line, cut = clip(line, limit), True
        if pieces and len(pieces[-1]) + 1 + len(line) <= limit:
            pieces[-1] += "\n" + line
        else:
            pieces.append(line)
    return [piece for piece in pieces if piece.strip()] or ["(no answer)"], cut


REPORT_MEMORY = 5


def cycle_report(cycle: CycleView, learnings: int) -> Message:
    """A cycle report: the agent and its task, what it did, the memory that shaped it,
    handoffs and refusals; its new learnings follow as replies, one each, to be promoted."""
    why = f"The whole cycle: `/brain why {cycle.id}`."
    status = cycle.status.value
    blocks: list[Block] = [
        header(
            f"{cycle.agent} · cycle {cycle.id}"
            + ("" if cycle.status is CycleStatus.SUCCEEDED else f" · {status}")
        ),
        note(
            f"task: {escape(clip(cycle.task or '-', 300))} · {cycle.model} ({cycle.backend}) · "
            f"{cycle.duration_ms / 1000:.1f} s"
        ),
    ]
    if cycle.status is not CycleStatus.SKIPPED:
        blocks.append(note(f"tokens: {usage_line(cycle)}"))
    if cycle.status is CycleStatus.FAILED:
        blocks.append(
            section(
                f":x: *Failed:* {escape(clip(cycle.error or 'unknown error', 2000))}\n"
                "Nothing was written; the agent tries again at its next heartbeat."
            )
        )
    elif cycle.status is CycleStatus.SKIPPED:
        blocks.append(section(f"Skipped: {escape(cycle.error or '')}"))
    else:
        blocks.append(section(escape(cycle.report or "(no summary)")))
        done = [c for c in cycle.tool_calls if c.status is not CallStatus.REFUSED]
        _bullets(blocks, "Actions", [escape(str(a)) for a in cycle.actions])
        _bullets(
            blocks,
            "Handoffs",
            [
                f"task {c.task_id or '?'} to {escape(str(c.input.get('to_agent')))}: "
                f"{escape(str(c.input.get('title', '')))}"
                for c in done
                if c.name == "handoff_task"
            ],
        )
        _bullets(
            blocks,
            "Refused",
            [
                f"{c.name}: {escape(c.result.removeprefix('refused: '))}"
                for c in cycle.calls(CallStatus.REFUSED)
            ],
        )
        _bullets(
            blocks,
            "Memory that shaped it",
            [
                f"block {b['id']} · {b['tier']} · {b['type']} · {b['score']:.2f} "
                f"(importance {b['importance']:.2f}, recency {b['recency']:.2f}, "
                f"relevance {b['relevance']:.2f}): "
                f"{escape(clip(b['content'], 150))}"
                for b in cycle.context_blocks[:REPORT_MEMORY]
            ],
        )
        if learnings:
            blocks.append(
                note(
                    f"{learnings} new learning{'s' if learnings != 1 else ''} in the thread: "
                    "react to one with the promote emoji to put it on the Team Brain."
                )
            )
    if cycle.upgrade_hint:
        blocks.append(note(f":warning: {escape(cycle.upgrade_hint)}"))
    blocks.append(note(why))
    return {
        "text": f"{cycle.agent}: cycle {cycle.id} {status}",
        "blocks": fit(blocks, MESSAGE_BLOCKS, why),
    }


def _bullets(blocks: list[Block], title: str, lines: list[str]) -> None:
    if not lines:
        return
    text = f"*{title}*\n" + "\n".join(f"• {line}" for line in lines)
    if len(text) > SECTION_LIMIT:
        text = clip(text, SECTION_LIMIT - 40) + "\n(more in `/brain why`)"
    blocks.append(section(text))


def learning_reply(block_id: int, content: str, emoji: str, team: str) -> Message:
    """One new learning, as its own reply: a reaction on it addresses exactly this block."""
    return {
        "text": f"New learning (block {block_id}): {clip(content, 200)}",
        "blocks": [
            section(f"*New learning* · block {block_id}\n{escape(clip(content, 2500))}"),
            note(f"React with :{emoji}: to promote it to team {team}'s Team Brain."),
        ],
    }


def proposal_message(proposal: ProposalView, emoji: str, by_user: str | None = None) -> Message:
    """A director's proposal as it stands: waiting (Approve, Reject, or the promote emoji),
    applied (Retract), or decided; `by_user` is who just decided, for the line saying so."""
    director = proposal.proposed_by.partition(":")[2]
    if proposal.kind is ProposalKind.PROMOTION:
        what = f"promote block {proposal.source_block_id} to team {proposal.team}'s Team Brain"
        body = f"*Why:* {escape(clip(proposal.note, 1500))}"
    else:
        what = f"coach {proposal.agent}"
        body = escape(clip(proposal.note, 2000))
        if proposal.evidence and proposal.evidence.get("note"):
            body += f"\n*Evidence:* {escape(clip(str(proposal.evidence['note']), 800))}"
    status = proposal.status
    title = {
        ProposalStatus.PENDING: f"*{director} proposes to {what}* · proposal {proposal.id}",
        ProposalStatus.APPLIED: f"*{director} did: {what}* · proposal {proposal.id}"
        + (f" · block {proposal.block_id}" if proposal.block_id else ""),
        ProposalStatus.REJECTED: f"*Rejected: {director}'s proposal to {what}* · "
        f"proposal {proposal.id}",
        ProposalStatus.RETRACTED: f"*Retracted: {director}'s {proposal.kind.value}* · "
        f"proposal {proposal.id} · block {proposal.block_id} archived",
    }[status]
    blocks: list[Block] = [section(f"{title}\n{body}")]
    value = str(proposal.id)
    if status is ProposalStatus.PENDING:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    _button("Approve", APPROVE_BUTTON, value, "primary"),
                    _button("Reject", REJECT_BUTTON, value, "danger"),
                ],
            }
        )
        blocks.append(note(f"A manager of team {proposal.team} approves (or reacts :{emoji}:)."))
    elif status is ProposalStatus.APPLIED:
        blocks.append(
            {"type": "actions", "elements": [_button("Retract", RETRACT_BUTTON, value, "danger")]}
        )
    if by_user and status is not ProposalStatus.PENDING:
        verb = {
            ProposalStatus.APPLIED: "approved",
            ProposalStatus.REJECTED: "rejected",
            ProposalStatus.RETRACTED: "retracted",
        }[status]
        blocks.append(note(f"{verb.capitalize()} by <@{by_user}>."))
    return {
        "text": f"{director}: {what} (proposal {proposal.id}, {status.value})",
        "blocks": blocks,
    }


def _button(text: str, action_id: str, value: str, style: str) -> Block:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
        "style": style,
    }


def director_settings_message(settings: DirectorSettings) -> Message:
    if settings.autonomy.value == "apply":
        how = "directors' promotions and coaching apply at once; a manager may retract them"
    else:
        how = "directors' promotions and coaching wait for a manager's approval"
    return line(
        f"Autonomy is {settings.autonomy.value}: {how}. At most {settings.notes_per_day} "
        "director note(s) per agent per day."
    )


def why_message(cycle: CycleView) -> Message:
    """Why the agent saw what it saw in a cycle: every block of its context, with scores."""
    task = cycle.task or "-"
    blocks: list[Block] = [
        header(f"Why {cycle.agent} saw this · cycle {cycle.id}"),
        note(
            f"task: {escape(clip(task, 300))} · score: relevance, moved by importance and recency"
        ),
    ]
    if orders := standing_order_lines(cycle, width=300):
        lines = "\n".join(f"• {escape(line)}" for line in orders)
        blocks.append(section(f"*Company Brain standing orders*, in every prompt:\n{lines}"))
    for rank, b in enumerate(cycle.context_blocks, start=1):
        blocks.append(
            section(
                f"*{rank}.* block {b['id']} · {b['tier']} · {b['type']} · *{b['score']:.2f}* · "
                f"importance {b['importance']:.2f} · recency {b['recency']:.2f} · "
                f"relevance {b['relevance']:.2f}\n"
                f"{escape(clip(b['content'], 1500))}"
            )
        )
    if not cycle.context_blocks:
        blocks.append(section("No memory surfaced in this cycle."))
    return {
        "text": f"Why {cycle.agent} saw this (cycle {cycle.id})",
        "blocks": fit(blocks, MESSAGE_BLOCKS, f"More: `salesbrain cycles show {cycle.id}`."),
    }


def replay_message(replay: dict[str, Any]) -> Message:
    """A cycle and its replay on another model, side by side (two columns)."""
    before, after = replay["original"], replay["replay"]
    columns = [
        (f"cycle {replay['cycle']}", before),
        ("replay", after),
    ]
    blocks: list[Block] = [
        header(f"Cycle {replay['cycle']} of {replay['agent']} replayed on {after['model']}"),
        note(
            f"task: {escape(clip(replay['task'], 300))} · {replay['memory']} · nothing was written"
        ),
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": clip(_replay_column(title, side), 2000)}
                for title, side in columns
            ],
        },
    ]
    for title, side in columns:
        calls = [f"• {escape(call_line(call))}" for call in side["tool_calls"]] or ["• none"]
        learned = [f"• {escape(clip(text, 300))}" for text in side["learnings"]] or ["• none"]
        blocks.append(
            section(
                f"*{title}* on {side['model']}\n*Tool calls*\n"
                + "\n".join(calls)
                + "\n*Learnings*\n"
                + "\n".join(learned)
            )
        )
    return {
        "text": f"Cycle {replay['cycle']} replayed on {after['model']}",
        "blocks": blocks,
    }


def _replay_column(title: str, side: dict[str, Any]) -> str:
    status = side["status"] + (f": {escape(clip(side['error'], 300))}" if side["error"] else "")
    return (
        f"*{title}*\n{side['model']} ({side['backend']})\n{status}\n"
        f"{len(side['tool_calls'])} tool calls · {len(side['learnings'])} learnings\n"
        f"{side['tokens']['input']} in, {side['tokens']['output']} out tokens · "
        f"{side['duration_ms']:.0f} ms"
    )


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": clip(label, 75)}, "value": value}


def coach_modal(
    agents: Sequence[tuple[str, str]], initial: str | None, metadata: dict[str, str]
) -> dict[str, Any]:
    """The coaching form: agent, type, importance and the note."""
    options = [_option(handle, f"{handle} ({name})") for handle, name in agents[:OPTION_LIMIT]]
    agent_select: dict[str, Any] = {
        "type": "static_select",
        "action_id": "value",
        "placeholder": {"type": "plain_text", "text": "Choose an agent"},
        "options": options,
    }
    chosen = [o for o in options if o["value"] == initial]
    if chosen:
        agent_select["initial_option"] = chosen[0]
    types = [_option(kind, kind.replace("_", " ")) for kind in COACH_TYPES]
    return {
        "type": "modal",
        "callback_id": COACH_MODAL,
        "private_metadata": json.dumps(metadata),
        "title": {"type": "plain_text", "text": "Coach an agent"},
        "submit": {"type": "plain_text", "text": "Store"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _input("agent", "Agent", agent_select),
            _input(
                "type",
                "Type",
                {
                    "type": "static_select",
                    "action_id": "value",
                    "options": types,
                    "initial_option": types[0],
                },
            ),
            _input(
                "importance",
                "Importance (0 to 1)",
                {
                    "type": "number_input",
                    "action_id": "value",
                    "is_decimal_allowed": True,
                    "min_value": "0",
                    "max_value": "1",
                    "initial_value": "0.9",
                },
            ),
            _input(
                "note",
                "Note",
                {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "max_length": NOTE_LIMIT,
                },
            ),
        ],
    }


def _input(block_id: str, label: str, element: dict[str, Any]) -> Block:
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": element,
    }


def coach_modal_values(view: dict[str, Any]) -> dict[str, str]:
    """What was entered in the coaching form, by field."""
    values: dict[str, str] = {}
    for block_id, fields in (view.get("state") or {}).get("values", {}).items():
        field = fields.get("value") or {}
        chosen = field.get("selected_option") or {}
        values[block_id] = str(chosen.get("value") or field.get("value") or "")
    return values


def coached_modal(confirmation: Message) -> dict[str, Any]:
    """The form, once stored: the confirmation in its place."""
    return {
        "type": "modal",
        "callback_id": f"{COACH_MODAL}_done",
        "title": {"type": "plain_text", "text": "Coached"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [section(confirmation["text"])],
    }
