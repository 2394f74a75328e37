"""Generated data for the benchmarks: sales text with Zipf-like word frequencies, and
workspaces of teams and agents."""

from __future__ import annotations

import itertools
import random
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.db import make_engine
from core.models import Agent, AgentRole, BlockType, MemoryBlock, Team, Workspace
from migrations import schema

# Databases the benchmarks build and reuse (git-ignored).
DATA = Path(__file__).parent / "data"
# The benchmarks' "now": ages are spread before it, assembly runs at it.
NOW = datetime(2026, 11, 25, tzinfo=UTC)


def _listed(text: str) -> list[str]:
    return text.split()


_ACTIONS = _listed(
    """draft email call follow book meeting demo pitch sequence reply open click bounce
unsubscribe referral intro nurture qualify discovery proposal pricing discount renewal upsell
churn onboarding pilot trial contract procurement legal security compliance budget timeline
champion stakeholder decision objection competitor outreach prospect lead pipeline forecast
quota deal close negotiate signature invoice kickoff handoff escalate cadence touch sync recap
agenda calendar voicemail sms message thread subject line template snippet signature
personalise research shortlist evaluation rfp tender vendor partner reseller channel"""
)
_TITLES = _listed(
    """cto cfo ceo cio ciso coo cmo cro vp director head manager founder buyer admin
architect engineer analyst controller treasurer counsel recruiter physician nurse dean
principal superintendent procurement officer owner president partner"""
)
_INDUSTRIES = _listed(
    """healthcare hospital clinic pharma biotech medtech fintech bank insurance
retail ecommerce logistics shipping manufacturing automotive saas education university school
government municipality energy utility telecom media publishing legaltech realestate hospitality
travel airline nonprofit agritech construction mining chemicals aerospace defence gaming"""
)
_ATTRIBUTES = _listed(
    """question personalised short long morning afternoon evening monday tuesday
wednesday thursday friday weekend quarter q1 q2 q3 q4 roi casestudy webinar whitepaper linkedin
cold warm inbound outbound persona segment icp enterprise midmarket smb startup emea dach nordics
benelux uk france spain italy germany us canada apac latam anz india japan brazil mexico"""
)
_PRODUCT = _listed(
    """integration api dashboard analytics automation workflow platform data migration
audit hipaa gdpr soc2 iso27001 encryption sso uptime sla support implementation training
onboarding roadmap feature release mobile reporting export import sandbox latency scalability
cost savings efficiency risk downtime backup recovery identity access permissions scheduling
billing payments invoicing claims records imaging telehealth patients compliance"""
)
_QUALITIES = _listed(
    """faster cheaper safer simpler proven trusted certified secure reliable flexible
urgent strategic tactical critical optional visible measurable concrete specific relevant
generic formal casual direct concise detailed technical executive"""
)
FUNCTION_WORDS = _listed(
    """the a to for with and of in on at by from about when if that this their
them they it is are was be as or but not only more most than then so into over after before
your our we you"""
)
SYLLABLES = _listed(
    """nor north wind con tos fab ri kam glo bex ini tech umb rel la ster ling hoo li
vand ley wes ton acme cy ber dyne sof tel ion lum en ova med ix cor a pex ver dant zen ith
"""
)

VOCABULARY: list[str] = list(
    dict.fromkeys(
        itertools.chain(_ACTIONS, _TITLES, _INDUSTRIES, _ATTRIBUTES, _PRODUCT, _QUALITIES)
    )
)
_OPENERS = {
    BlockType.COACHING: ["Lead with", "Always mention", "Never open with", "Keep", "Ask about"],
    BlockType.LEARNING: ["Observed:", "Replies show", "Opens rise when", "Meetings follow"],
    BlockType.PATTERN: ["Pattern:", "Across the team,", "Deals close faster when"],
    BlockType.OBJECTION_RESPONSE: ["When they say", "If the buyer objects to", "Answer"],
    BlockType.ACCOUNT_CONTEXT: ["Account note:", "They use", "Their board", "Renewal of"],
}


class Corpus:
    """Seeded text in the vocabulary: content words by a Zipf law over a shuffled order
    (so frequent words are spread across kinds), function words in between."""

    def __init__(self, seed: int, words: Sequence[str] = VOCABULARY, exponent: float = 1.07):
        self.random = random.Random(seed)
        self.words = list(words)
        self.random.shuffle(self.words)
        weights = [1.0 / (rank + 1) ** exponent for rank in range(len(self.words))]
        self._cumulative = list(itertools.accumulate(weights))

    def content_words(self, count: int) -> list[str]:
        return self.random.choices(self.words, cum_weights=self._cumulative, k=count)

    def sentence(self, low: int = 6, high: int = 30, opener: str = "") -> str:
        words: list[str] = []
        for word in self.content_words(self.random.randint(low, high)):
            words.append(word)
            if self.random.random() < 0.45:
                words.append(self.random.choice(FUNCTION_WORDS))
        text = " ".join(words)
        return f"{opener} {text}".strip() if opener else text.capitalize()

    def block_text(self, block_type: BlockType) -> str:
        return self.sentence(opener=self.random.choice(_OPENERS[block_type]))

    def task(self) -> str:
        title = self.random.choice(_TITLES)
        industry = self.random.choice(_INDUSTRIES)
        rest = " ".join(self.content_words(self.random.randint(2, 8)))
        return f"Draft outreach to the {title} of a {industry} group about {rest}"

    def company(self) -> tuple[str, str]:
        """A made-up company name and its domain."""
        parts = self.random.sample(SYLLABLES, self.random.randint(2, 3))
        name = "".join(parts).capitalize()
        return f"{name} {self.random.choice(['Health', 'Bank', 'Group', 'Labs', 'Inc'])}", (
            f"{''.join(parts)}.example"
        )


def new_workspace(
    session: Session, slack_team_id: str, teams: int, agents_per_team: int
) -> tuple[Workspace, list[tuple[Team, list[Agent]]]]:
    """A workspace with `teams` teams of `agents_per_team` SDR agents each."""
    workspace = Workspace(slack_team_id=slack_team_id, name=slack_team_id, settings={})
    session.add(workspace)
    session.flush()
    roster = []
    for t in range(teams):
        team = Team(workspace_id=workspace.id, slug=f"team-{t}", name=f"Team {t}")
        session.add(team)
        session.flush()
        agents = [
            Agent(
                workspace_id=workspace.id,
                team_id=team.id,
                team=team,
                handle=f"agent-{t}-{a}",
                display_name=f"Agent {t}-{a}",
                role=AgentRole.SDR,
            )
            for a in range(agents_per_team)
        ]
        session.add_all(agents)
        session.flush()
        roster.append((team, agents))
    return workspace, roster


def empty_database(url: str | None, name: str) -> Engine:
    """An engine on an empty, migrated database: `url`, or a new SQLite file bench/data/NAME.db.
    A labelled set is built from nothing, so a database that holds blocks exits 2."""
    if url is None:
        DATA.mkdir(parents=True, exist_ok=True)
        path = DATA / f"{name}.db"
        for leftover in DATA.glob(f"{path.name}*"):
            leftover.unlink()
        url = f"sqlite:///{path}"
    schema.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        if connection.scalar(select(func.count()).select_from(MemoryBlock)):
            print(f"{url} is not empty: give an empty database", file=sys.stderr)
            sys.exit(2)
    return engine
