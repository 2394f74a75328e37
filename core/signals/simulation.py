"""Simulated signals with planted effects: for the demo, the tests and the benchmark.

A campaign sends emails for some agents; each send picks a subject format, segment,
industry and template at random. It is opened, replied to and books a meeting with base
probabilities, except where an effect is planted ("question" subject lines open at 45%).
Replies raise an objection category with planted shares. The same seed gives the same
signals, so a test can assert exactly which findings come out.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

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
    # The share of replies raising each objection (the rest raise none).
    objections: dict[str, float] = field(
        default_factory=lambda: {"timing": 0.04, "competitor": 0.04}
    )
    start: datetime = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    # Sender ids and threads start with it: campaigns with different prefixes never collide.
    id_prefix: str = "sig-"


def simulate(campaign: Campaign) -> Iterator[dict[str, str]]:
    """The campaign's signals in time order per send (sent, bounced or opened, replied,
    booked), as records with the file format's field names."""
    rng = random.Random(campaign.seed)
    effects = campaign.effects
    formats = effects.get("subject_format", {})
    segments = effects.get("segment", {})
    industries = effects.get("industry", {})
    templates = effects.get("template", {})
    objections = list(campaign.objections.items())
    number = 0
    for position, agent in enumerate(campaign.agents):
        for send in range(campaign.sends_per_agent):
            fmt = rng.choice(campaign.subject_formats)
            segment = rng.choice(campaign.segments)
            industry = rng.choice(campaign.industries)
            template = rng.choice(campaign.templates)
            thread = f"{campaign.id_prefix}{agent}-{send}"
            at = campaign.start + timedelta(minutes=send * 7 + position)
            company = f"Company {rng.randrange(10_000)}"
            base = {
                "agent": agent,
                "thread": thread,
                "company": company,
                "domain": company.lower().replace(" ", "") + ".example",
                "title": rng.choice(("CTO", "VP Sales", "Head of IT", "CFO")),
                "industry": industry,
                "segment": segment,
                "subject": f"A {fmt} subject for {company}",
                "subject_format": fmt,
                "template": template,
            }
            events: list[tuple[str, dict[str, str | None]]] = [("email_sent", {})]
            if rng.random() < campaign.bounce_rate:
                events.append(("bounced", {}))
            else:
                opened = rng.random() < formats.get(fmt, campaign.open_rate)
                reply = segments.get(segment, industries.get(industry, campaign.reply_rate))
                replied = rng.random() < reply
                booked = rng.random() < templates.get(template, campaign.meeting_rate)
                if opened or replied or booked:
                    events.append(("email_opened", {}))
                if replied:
                    objection = _pick(rng, objections)
                    text = REPLY_TEXTS.get(objection, f"Concerned about {objection}.")
                    events.append(("email_replied", {"reply_text": text, "objection": objection}))
                if booked:
                    events.append(("meeting_booked", {}))
            for step, (kind, extra) in enumerate(events):
                number += 1
                record = {
                    **base,
                    "id": f"{campaign.id_prefix}{number}",
                    "type": kind,
                    "occurred_at": (at + timedelta(hours=step)).isoformat(),
                }
                record.update({k: v for k, v in extra.items() if v is not None})
                yield record


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
