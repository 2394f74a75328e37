"""Simulated signals with planted effects: for the demo, the tests and the benchmark.

A campaign sends emails for some agents, spread evenly over `days`; each send picks a
subject format, segment, industry and template at random (uniformly, or by `weights`).
It is opened, replied to and books a meeting with base probabilities, except where an
effect is planted ("question" subject lines open at 45%). Replies raise an objection
category with planted shares. The same seed gives the same signals, so a test can assert
exactly which findings come out; `tallies` gives the counts analysis would take from them,
without a database, for simulating thousands of analyses.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from core.signals.tally import MEASURES, OBJECTIONS, REPLIES, REPLY_BY_INDUSTRY, Tally

RATES = tuple(measure for measure in MEASURES if measure is not OBJECTIONS)

FIELDS = (
    "id",
    "type",
    "occurred_at",
    "agent",
    "thread",
    "company",
    "domain",
    "title",
    "industry",
    "segment",
    "subject",
    "subject_format",
    "template",
    "reply_text",
    "objection",
    "cycle",
)

REPLY_TEXTS = {
    None: "Thanks, happy to take a look. What does onboarding involve?",
    "budget freeze": "We are in a budget freeze until next fiscal year, circle back then.",
    "timing": "Not the right time for us, we are mid-migration.",
    "competitor": "We already use a competitor and are happy with it.",
    "no authority": "I am not the right person for this.",
    "security review": "Anything new needs a security review first, which takes months.",
}


@dataclass(frozen=True)
class Campaign:
    """What to simulate: agents, sends each, base rates, the groups and planted effects."""

    agents: tuple[str, ...]
    sends_per_agent: int = 2_000
    seed: int = 1
    # Each agent's sends spread evenly over this many days from `start`.
    days: float = 14.0
    open_rate: float = 0.25
    reply_rate: float = 0.04
    meeting_rate: float = 0.02
    bounce_rate: float = 0.02
    subject_formats: tuple[str, ...] = ("question", "statement", "personalised", "number")
    segments: tuple[str, ...] = ("healthcare", "fintech", "retail", "logistics", "education")
    industries: tuple[str, ...] = ("software", "insurance", "manufacturing", "media")
    templates: tuple[str, ...] = ("case-study", "short-intro", "pain-point")
    # Planted rates by group: {"subject_format": {"question": 0.45}, "segment": {...}}.
    effects: dict[str, dict[str, float]] = field(default_factory=dict)
    # How often each value is picked, by dimension ({"segment": {"healthcare": 4}}; an
    # unlisted value weighs 1); without weights a dimension's values are equally likely.
    weights: dict[str, dict[str, float]] = field(default_factory=dict)
    # The share of replies raising each objection (the rest raise none).
    objections: dict[str, float] = field(
        default_factory=lambda: {"timing": 0.04, "competitor": 0.04}
    )
    start: datetime = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    # Sender ids and threads start with it: campaigns with different prefixes never collide.
    id_prefix: str = "sig-"
    # The heartbeat cycle that wrote the sends (the signals' `cycle`), when one did.
    cycle: int | None = None


@dataclass(frozen=True)
class _Send:
    """One simulated send and what came of it."""

    agent: str
    number: int
    at: datetime
    values: dict[str, str]  # subject_format, segment, industry, template
    company: str
    title: str
    bounced: bool
    opened: bool = False
    replied: bool = False
    booked: bool = False
    objection: str | None = None


def _sends(campaign: Campaign) -> Iterator[_Send]:
    """The campaign's draws, send by send: the one source of both signals and counts."""
    rng = random.Random(campaign.seed)
    effects = campaign.effects
    formats = effects.get("subject_format", {})
    segments = effects.get("segment", {})
    industries = effects.get("industry", {})
    templates = effects.get("template", {})
    objections = list(campaign.objections.items())
    # Whole seconds apart: the times read like a mail system's.
    spacing = timedelta(seconds=round(campaign.days * 86_400 / max(1, campaign.sends_per_agent)))
    for position, agent in enumerate(campaign.agents):
        for number in range(campaign.sends_per_agent):
            values = {
                "subject_format": _choose(
                    rng, campaign, "subject_format", campaign.subject_formats
                ),
                "segment": _choose(rng, campaign, "segment", campaign.segments),
                "industry": _choose(rng, campaign, "industry", campaign.industries),
                "template": _choose(rng, campaign, "template", campaign.templates),
            }
            at = campaign.start + spacing * number + timedelta(minutes=position)
            company = f"Company {rng.randrange(10_000)}"
            title = rng.choice(("CTO", "VP Sales", "Head of IT", "CFO"))
            if rng.random() < campaign.bounce_rate:
                yield _Send(agent, number, at, values, company, title, bounced=True)
                continue
            opened = rng.random() < formats.get(values["subject_format"], campaign.open_rate)
            reply = segments.get(
                values["segment"], industries.get(values["industry"], campaign.reply_rate)
            )
            replied = rng.random() < reply
            booked = rng.random() < templates.get(values["template"], campaign.meeting_rate)
            objection = _pick(rng, objections) if replied else None
            yield _Send(
                agent,
                number,
                at,
                values,
                company,
                title,
                bounced=False,
                opened=opened or replied or booked,
                replied=replied,
                booked=booked,
                objection=objection,
            )


def simulate(campaign: Campaign) -> Iterator[dict[str, str]]:
    """The campaign's signals in time order per send (sent, bounced or opened, replied,
    booked), as records with the file format's field names."""
    number = 0
    for send in _sends(campaign):
        fmt, company = send.values["subject_format"], send.company
        base = {
            "agent": send.agent,
            "thread": f"{campaign.id_prefix}{send.agent}-{send.number}",
            "company": company,
            "domain": company.lower().replace(" ", "") + ".example",
            "title": send.title,
            "industry": send.values["industry"],
            "segment": send.values["segment"],
            "subject": f"A {fmt} subject for {company}",
            "subject_format": fmt,
            "template": send.values["template"],
        }
        if campaign.cycle is not None:
            base["cycle"] = str(campaign.cycle)
        for step, (kind, extra) in enumerate(_events(send)):
            number += 1
            record = {
                **base,
                "id": f"{campaign.id_prefix}{number}",
                "type": kind,
                "occurred_at": (send.at + timedelta(hours=step)).isoformat(),
            }
            record.update({k: v for k, v in extra.items() if v is not None})
            yield record


def _events(send: _Send) -> list[tuple[str, dict[str, str | None]]]:
    events: list[tuple[str, dict[str, str | None]]] = [("email_sent", {})]
    if send.bounced:
        return [*events, ("bounced", {})]
    if send.opened:
        events.append(("email_opened", {}))
    if send.replied:
        text = REPLY_TEXTS.get(send.objection, f"Concerned about {send.objection}.")
        events.append(("email_replied", {"reply_text": text, "objection": send.objection}))
    if send.booked:
        events.append(("meeting_booked", {}))
    return events


def tallies(campaign: Campaign) -> dict[str, Tally]:
    """Each agent's counts as analysis would take them from the campaign's signals, without
    writing any: for simulating thousands of analyses (`core.signals.tally.tally_signals`
    counts the same from the database)."""
    counted: dict[str, Tally] = {}
    for send in _sends(campaign):
        tally = counted.get(send.agent)
        if tally is None:
            tally = counted[send.agent] = Tally()
        if send.bounced:
            continue
        outcomes = {"open_rate": send.opened, "reply_rate": send.replied}
        outcomes["meeting_rate"] = send.booked
        for measure in RATES:
            success = int(outcomes[measure.metric])
            if measure is not REPLY_BY_INDUSTRY:  # the reply rate's total, once
                tally.add((measure.metric, "", ""), success, 1)
            value = send.values[measure.dimension]
            tally.add((measure.metric, measure.dimension, value), success, 1, send.at, send.at)
        if send.replied:
            tally.add(REPLIES, 1, 1)
            if send.objection is not None:
                replied_at = send.at + timedelta(hours=2)  # after the send and its open
                key = (OBJECTIONS.metric, OBJECTIONS.dimension, send.objection)
                tally.add(key, 1, 1, replied_at, replied_at)
    return counted


def _choose(rng: random.Random, campaign: Campaign, dimension: str, values: tuple[str, ...]) -> str:
    weights = campaign.weights.get(dimension)
    if not weights:
        return rng.choice(values)
    return rng.choices(values, [weights.get(value, 1.0) for value in values])[0]


def _pick(rng: random.Random, shares: list[tuple[str, float]]) -> str | None:
    draw = rng.random()
    for name, share in shares:
        if draw < share:
            return name
        draw -= share
    return None


def as_csv(records: Iterator[dict[str, str]]) -> Iterator[str]:
    """CSV lines with a header (line 1), one record a line."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, FIELDS, lineterminator="\n")
    writer.writeheader()
    yield buffer.getvalue()
    for record in records:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(record)
        yield buffer.getvalue()


def as_jsonl(records: Iterator[dict[str, str]]) -> Iterator[str]:
    """JSON Lines, one record a line."""
    for record in records:
        yield json.dumps(record) + "\n"
