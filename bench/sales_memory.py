"""A hand-written sales memory for bench/retrieval_eval.py: topics, tasks and graded labels.

Every task belongs to one topic; every block is written for one topic (or for none: the
background), and its grade for that topic's tasks is set here, by hand, when the block is
written:

    3  the note the task needs (what to do in exactly this situation)
    2  relevant: useful on the topic
    1  related background (also: any note about an account the task names)
    0  everything else, including blocks that share the task's words but not its topic

A note about one account keeps its grade only for the tasks that name that account; for the
topic's other tasks it is background (at most 1).

A task and its best blocks are often worded differently (CFO / finance chief, hospital /
health system, POC / pilot ...), tasks name accounts by short forms (first word,
abbreviation, domain), and each topic has blocks that must never be shown: another agent's,
another team's, another workspace's, archived and superseded ones.

Nothing here knows how salesbrain scores a block.
"""

# ruff: noqa: E501  (one hand-written sentence per line reads best)
from __future__ import annotations

from dataclasses import dataclass, field

from core.models import BlockType

COACHING = BlockType.COACHING
LEARNING = BlockType.LEARNING
PATTERN = BlockType.PATTERN
OBJECTION = BlockType.OBJECTION_RESPONSE
ACCOUNT = BlockType.ACCOUNT_CONTEXT

# The evaluated workspace: two teams, six agents (handle -> team, role).
AGENTS = {
    "ae-ent": ("enterprise", "account_executive"),
    "sdr-ent": ("enterprise", "sdr"),
    "dir-ent": ("enterprise", "director"),
    "mm-growth": ("growth", "marketing_manager"),
    "ads-growth": ("growth", "ad_manager"),
    "sdr-growth": ("growth", "sdr"),
}
TEAMS = {"enterprise": "Enterprise Sales", "growth": "Growth Marketing"}
# The same agent handle in another workspace, whose blocks must never be seen.
OTHER_WORKSPACE_AGENT = "ae-ent"

# Accounts: full name and domain as stored on account notes; tasks use short forms.
ACCOUNTS = {
    "kestrel": ("Kestrel Financial Partners", "kestrelfp.com"),
    "mercy": ("Mercy Valley Health System", "mercyvalleyhealth.org"),
    "brightline": ("Brightline Logistics Group", "brightlinelogistics.com"),
    "orchard": ("Orchard Ridge University", "orchardridge.edu"),
    "halvorsen": ("Halvorsen Precision Manufacturing", "halvorsen-mfg.com"),
    "pinecrest": ("Pinecrest Insurance Mutual", "pinecrestmutual.com"),
    "tidewater": ("Tidewater Energy Cooperative", "tidewater.coop"),
    "lakeshore": ("Lakeshore Community Clinics", "lakeshoreclinics.org"),
}


@dataclass(frozen=True)
class Note:
    """One block as written for a topic.

    `where`: P (the topic's agent), T (its team), C (Company Brain), or never readable by
    the topic's agent: "X:<handle>" (another agent of the workspace), XT (the other team),
    XW (another workspace), ARCH (the agent's, archived), SUP (the agent's, superseded).
    """

    grade: int
    where: str
    type: BlockType
    days: float
    importance: float
    text: str
    account: str | None = None
    twin: str | None = None  # near-duplicates share a twin name: one counts, once
    also: dict[str, int] = field(default_factory=dict)  # grades for other topics
    paraphrase: bool = False  # says the tasks' key terms in other words (finance chief: CFO)


@dataclass(frozen=True)
class Topic:
    key: str
    agent: str
    tasks: list[tuple[str, str | None]]  # text, account it names (if any)
    notes: list[Note]


def n(grade: int, where: str, type_: BlockType, days: float, importance: float, text: str, *,
      account: str | None = None, twin: str | None = None, also: dict[str, int] | None = None,
      paraphrase: bool = False) -> Note:  # fmt: skip
    return Note(grade, where, type_, days, importance, text, account, twin, also or {}, paraphrase)


def never(where: str, type_: BlockType, days: float, importance: float, text: str, *,
          account: str | None = None) -> Note:  # fmt: skip
    """A block on the topic that the topic's agent must never be shown."""
    return n(-1, where, type_, days, importance, text, account=account)


# fmt: off
TOPICS: list[Topic] = [
    Topic("cfo-business-case", "ae-ent", [
        ("Prepare the business case for Kestrel's finance chief before Thursday's budget review", "kestrel"),
        ("Write a follow-up to the CFO who asked how fast our platform pays for itself", None),
    ], [
        n(3, "P", COACHING, 410, 0.9, "When the chief financial officer joins a deal, lead with payback in months and the cost of waiting a quarter; finance leaders discount productivity claims they cannot audit.", paraphrase=True),
        n(3, "P", ACCOUNT, 12, 0.8, "Dana Whitfield (CFO) wants a payback under nine months and will not approve anything above $250k without a board-ready business case.", account="kestrel"),
        n(2, "T", PATTERN, 190, 0.7, "Proposals with a one-page ROI summary that a controller can forward close about a third faster than decks alone."),
        n(2, "C", COACHING, 300, 0.85, "Only use the approved ROI calculator (v3) for numbers shared with a prospect's finance team; never promise savings the calculator does not show.", also={"pricing-discount": 1}),
        n(2, "P", LEARNING, 40, 0.6, "Replies from finance leaders doubled when the first line quoted payback in months instead of percentage gains.", twin="payback-line", also={"webinar-finance": 1}),
        n(2, "P", LEARNING, 38, 0.55, "Replies from finance leaders roughly doubled when the opening line quoted payback in months rather than percent gains.", twin="payback-line"),
        n(1, "P", ACCOUNT, 70, 0.5, "Kestrel runs its budget cycle from October; new spend is approved in the December board meeting.", account="kestrel"),
        n(0, "P", LEARNING, 9, 0.4, "Rescheduled the Brightline demo with the CFO's assistant: she books his calendar two weeks out."),
        never("SUP", ACCOUNT, 15, 0.8, "Kestrel's CFO is Mark Olsen; he signs off anything above $100k alone.", account="kestrel"),
        never("X:sdr-ent", LEARNING, 20, 0.6, "Kestrel's finance chief told me on a cold call she only reads business cases with a payback period.", account="kestrel"),
        never("XW", COACHING, 100, 0.9, "Lead with payback in months whenever a CFO is in the room."),
    ]),
    Topic("security-review", "ae-ent", [
        ("Mercy Valley's infosec lead sent a 200-question vendor security questionnaire: how do we answer it?", 'mercy'),
        ("Prepare for Thursday's call with the CISO at Pinecrest about their vendor risk review", 'pinecrest'),
    ], [
        n(3, "C", COACHING, 420, 0.95, "Route every security questionnaire through the trust portal and answer from the SIG Lite library; never hand-write answers about controls."),
        n(3, "T", PATTERN, 260, 0.8, "When the head of information security joins the deal, offer the SOC 2 Type II report under NDA on the first call: risk reviews finish about three weeks sooner.", paraphrase=True),
        n(2, "C", PATTERN, 500, 0.85, "All customer data is encrypted with AES-256 at rest and TLS 1.3 in transit; keys are rotated every 90 days.", twin="aes"),
        n(2, "P", LEARNING, 60, 0.6, "Security reviewers at insurers ask first about sub-processors and data residency; have the list ready."),
        n(2, "P", ACCOUNT, 25, 0.75, "Mercy Valley's information security office requires a signed BAA and a HIPAA risk assessment before any pilot.", account="mercy"),
        n(2, "P", ACCOUNT, 30, 0.7, "Pinecrest's CISO, Raj Menon, runs a formal third-party risk process with a quarterly committee.", account="pinecrest"),
        n(1, "C", COACHING, 200, 0.8, "Single sign-on (SAML and OIDC) is included in every enterprise plan; never sell it as an add-on.", also={"pricing-discount": 1}),
        n(0, "P", LEARNING, 5, 0.5, "Badge access for the Denver office is now through the reception desk; bring ID for security."),
        never("ARCH", COACHING, 600, 0.9, "Send the security whitepaper PDF to any CISO who asks; the trust portal is not ready yet."),
        never("XT", PATTERN, 90, 0.8, "Growth team: infosec leads respond best to the trust portal link in the first touch."),
        never("XW", ACCOUNT, 10, 0.8, "Pinecrest's CISO wants the pen-test summary before the vendor risk review.", account="pinecrest"),
    ]),
    Topic("champion-leaving", "ae-ent", [
        ("Our sponsor at brightlinelogistics.com is changing jobs next month: protect the renewal", "brightline"),
        ("The champion at Orchard Ridge just resigned: what should we do this week?", "orchard"),
    ], [
        n(3, "P", COACHING, 455, 0.9, "When a champion leaves, ask them for two introductions before they go and open a thread with the economic buyer within a week."),
        n(3, "T", PATTERN, 220, 0.8, "When the internal sponsor moves on, deals stall unless a new executive owner is named within 30 days; put the handover in the mutual plan.", also={"mutual-action-plan": 1}, paraphrase=True),
        n(2, "P", LEARNING, 120, 0.6, "Follow departing advocates to their new company: two of our last five new logos came from a former user who changed employer.", paraphrase=True),
        n(2, "P", ACCOUNT, 8, 0.8, "Priya Nair, our day-to-day sponsor, leaves for a competitor on the 15th; the VP Operations, Tom Reyes, has never met us.", account="brightline"),
        n(2, "P", ACCOUNT, 4, 0.8, "Helen Cho (Director of IT, our champion) resigned; the provost's office now owns the contract.", account="orchard"),
        n(1, "P", ACCOUNT, 200, 0.5, "Brightline renewed for two years in 2025 after a price increase of 7%.", account="brightline"),
        n(0, "P", LEARNING, 14, 0.5, "Closed-lost review: the Lakeshore deal died in legal, not with the champion."),
        never("X:dir-ent", COACHING, 60, 0.9, "Director's note to self: when any champion leaves, escalate to me the same day."),
        never("SUP", ACCOUNT, 90, 0.8, "Orchard Ridge: Helen Cho is our champion and signs the renewal.", account="orchard"),
        never("XW", PATTERN, 30, 0.8, "When a champion leaves, ask for introductions before they go."),
    ]),
    Topic("budget-freeze", "ae-ent", [
        ("Halvorsen announced a spending pause until Q2: how do we keep the deal alive?", "halvorsen"),
        ("The buyer says all new purchases are frozen this quarter; draft my reply", None),
    ], [
        n(3, "P", OBJECTION, 380, 0.85, "When they say the budget is frozen, offer a phased start funded from the current tool they are replacing, and ask who can grant an exception.", paraphrase=True),
        n(3, "C", PATTERN, 330, 0.85, "During a budget freeze, deals that kept a signed order form with a deferred start date closed 2.4x more often than deals paused outright.", twin="freeze-pattern"),
        n(2, "P", ACCOUNT, 6, 0.8, "Halvorsen froze all discretionary spend after the Q3 plant outage; capital projects are reviewed again in April.", account="halvorsen"),
        n(2, "T", LEARNING, 45, 0.6, "Freezes rarely cover renewals or safety spend: ask which budget lines are exempt before discounting.", paraphrase=True),
        n(1, "C", COACHING, 250, 0.8, "Deferred-start contracts need deal desk approval when the start is more than 90 days out.", also={"pricing-discount": 2}),
        n(0, "T", LEARNING, 18, 0.5, "Ad budget pacing: the healthcare campaign spent 80% of its monthly budget by day 12."),
        never("X:dir-ent", OBJECTION, 10, 0.8, "When a buyer freezes budget, walk away and revisit next year."),
        never("ARCH", OBJECTION, 400, 0.85, "When budgets freeze, offer 20% off to sign before quarter end."),
        never("XW", ACCOUNT, 12, 0.8, "Halvorsen paused all new purchases until April.", account="halvorsen"),
    ]),
    Topic("pilot-scope", "ae-ent", [
        ("Scope the pilot for Tidewater's grid analytics team with clear success criteria", 'tidewater'),
        ("The prospect wants a free trial: how do I structure it so it converts?", None),
    ], [
        n(3, "C", COACHING, 470, 0.9, "Every POC has written success criteria signed by the economic buyer, a fixed end date and a pre-agreed price if it succeeds.", paraphrase=True),
        n(3, "T", PATTERN, 150, 0.75, "Proofs of concept longer than 30 days convert half as often; keep them to three use cases.", paraphrase=True),
        n(2, "P", LEARNING, 50, 0.6, "Evaluations convert when the prospect's own data is loaded in week one; sample data pilots stall."),
        n(2, "P", ACCOUNT, 10, 0.75, "Tidewater wants to test outage prediction on two substations; their analytics lead, Omar Haddad, owns the evaluation.", account="tidewater"),
        n(1, "P", ACCOUNT, 140, 0.5, "Tidewater is a member-owned cooperative; the board meets monthly and approves contracts above $50k.", account="tidewater"),
        n(0, "C", PATTERN, 300, 0.7, "Autopilot sequences in the CRM must be reviewed by a manager before they send to more than 500 contacts."),
        never("XT", PATTERN, 40, 0.7, "Growth team: free trial users who invite a colleague in week one convert 3x."),
        never("SUP", COACHING, 500, 0.9, "A POC may run up to 90 days if the prospect asks."),
    ]),
    Topic("procurement", "ae-ent", [
        ("Purchasing at Kestrel sent a new-vendor onboarding form and wants insurance certificates", "kestrel"),
        ("How do I get through the buyer's purchasing department without losing a month?", None),
    ], [
        n(3, "P", COACHING, 390, 0.9, "Engage procurement the week the champion says yes, not after legal: ask for their vendor checklist and calendar early.", paraphrase=True),
        n(3, "C", PATTERN, 280, 0.8, "Vendor onboarding packs (W-9, certificate of insurance, banking letter, security summary) are in the deal room; sending them on day one saves about two weeks in procurement.", paraphrase=True),
        n(2, "P", ACCOUNT, 20, 0.75, "Kestrel's procurement team uses Coupa; new vendors need a certificate of insurance naming Kestrel as additional insured.", account="kestrel"),
        n(2, "T", LEARNING, 80, 0.6, "Sourcing teams at banks ask for three years of audited financials; finance can send them under NDA."),
        n(1, "C", COACHING, 350, 0.75, "Payment terms beyond net 60 need the CFO's approval (ours).", also={"pricing-discount": 1}),
        n(0, "P", LEARNING, 7, 0.4, "Bought new headsets for the team through the purchasing portal."),
        never("X:sdr-ent", LEARNING, 30, 0.5, "Kestrel purchasing asked me for the W-9 on a prospecting call."),
        never("XW", COACHING, 300, 0.9, "Engage procurement early and ask for their vendor checklist."),
    ]),
    Topic("pricing-discount", "ae-ent", [
        ("Pinecrest asks for 30% off in exchange for a three-year term: what can I offer?", "pinecrest"),
        ("The buyer wants a price concession to sign before the end of the quarter", None),
    ], [
        n(3, "C", COACHING, 430, 0.95, "Discounts above 15% need deal desk approval; multi-year terms earn at most 5% per extra year, and always trade a discount for something (term, case study, prepayment)."),
        n(3, "T", OBJECTION, 240, 0.8, "When they ask for a discount to sign this quarter, trade it for a signed order form by a date and a reference call, never for nothing."),
        n(2, "P", LEARNING, 90, 0.6, "End-of-quarter concessions taught two accounts to wait for the last week; hold list price until the final 10 days.", paraphrase=True),
        n(2, "P", ACCOUNT, 16, 0.75, "Pinecrest's procurement benchmarks every vendor against three quotes and expects a multi-year incentive.", account="pinecrest"),
        n(1, "C", PATTERN, 380, 0.7, "List prices rose 6% in January 2026; quotes issued before then are honoured for 90 days.", twin="list-price"),
        n(0, "P", LEARNING, 11, 0.5, "Price-per-click on the paid search campaign dropped after we paused broad match.", twin="ppc"),
        never("ARCH", COACHING, 540, 0.9, "Discounts up to 25% may be offered without approval at quarter end."),
        never("XW", COACHING, 200, 0.9, "Never discount more than 10% without the VP."),
    ]),
    Topic("legal-redlines", "ae-ent", [
        ("MVHS counsel sent back the MSA with the liability cap marked up", "mercy"),
        ("The customer's lawyers changed our indemnity clause: what is acceptable?", None),
    ], [
        n(3, "C", COACHING, 440, 0.95, "Liability caps below 12 months of fees, and uncapped indemnities other than IP and confidentiality, go to legal; never accept them in a call.", paraphrase=True),
        n(3, "T", PATTERN, 170, 0.75, "Contract markups settle fastest when we send our fallback clause table with the first redline response.", paraphrase=True),
        n(2, "P", ACCOUNT, 22, 0.75, "Their general counsel insists on their own BAA and a liability cap of 24 months for data breaches.", account="mercy"),
        n(2, "P", LEARNING, 130, 0.6, "Health systems' lawyers push hardest on data breach liability; prepare the cyber insurance certificate."),
        n(1, "C", COACHING, 320, 0.7, "Use the MSA template v7; older templates lack the AI data-use clause."),
        n(0, "P", LEARNING, 6, 0.45, "The Capital One lawyer on LinkedIn liked our post about contract AI (not a prospect)."),
        never("SUP", COACHING, 100, 0.9, "Accept any liability cap of at least 6 months of fees."),
        never("XW", ACCOUNT, 15, 0.8, "Mercy Valley legal wants a 24-month cap.", account="mercy"),
    ]),
    Topic("renewal-risk", "ae-ent", [
        ("Halvorsen's contract ends in March and logins dropped by half: how do we save it?", 'halvorsen'),
        ("A customer is at risk of cancelling at renewal: plan the save", None),
    ], [
        n(3, "P", COACHING, 400, 0.9, "When usage falls before a renewal, book an executive business review with the economic buyer within two weeks and bring a usage recovery plan.", paraphrase=True),
        n(3, "T", PATTERN, 140, 0.8, "Accounts whose weekly active users fall 40% in a quarter churn two times in three unless a success plan starts 90 days before the term ends.", paraphrase=True),
        n(2, "P", ACCOUNT, 9, 0.8, "The plant managers stopped using the dashboards after their MES upgrade; the integration broke in October.", account="halvorsen"),
        n(2, "C", COACHING, 260, 0.8, "Renewals at risk are flagged to customer success the same day; they own the recovery plan, sales owns the commercial terms."),
        n(1, "P", ACCOUNT, 300, 0.5, "Halvorsen signed a three-year agreement in March 2024 with a 5% annual uplift.", account="halvorsen"),
        n(0, "P", LEARNING, 13, 0.45, "Renewed my own Salesforce certification; due again in March."),
        never("X:sdr-ent", LEARNING, 25, 0.6, "Halvorsen logins dropped; flagged to the AE."),
        never("XT", PATTERN, 60, 0.8, "Growth: trial users who stop logging in for a week rarely come back."),
    ]),
    Topic("mutual-action-plan", "dir-ent", [
        ("Review the mutual action plans of the deals committed for Q4", None),
        ("Which of our late-stage deals have no MAP agreed with the buyer?", None),
    ], [
        n(3, "T", COACHING, 420, 0.9, "A deal is commit only when the buyer has agreed a MAP with dates for security, legal, procurement and signature."),
        n(3, "P", PATTERN, 160, 0.8, "Deals with a mutual close plan shared in writing slip half as often as deals with a verbal timeline."),
        n(2, "T", LEARNING, 70, 0.6, "Reps skip the legal step in joint plans most often; ask for the name of the buyer's lawyer.", paraphrase=True),
        n(2, "C", COACHING, 370, 0.8, "Forecast categories: commit needs a dated plan the customer confirmed in writing; best case needs a named economic buyer.", twin="forecast-categories", also={"forecast-call": 2}),
        n(1, "T", LEARNING, 30, 0.5, "Kestrel's close plan shows board approval on 12 December.", account="kestrel"),
        n(0, "C", PATTERN, 200, 0.7, "Marketing plans for Q4 are due in the planning doc by 15 September."),
        never("X:ae-ent", COACHING, 50, 0.85, "My own rule: send a mutual action plan after every second meeting."),
        never("XW", COACHING, 100, 0.9, "Commit means a mutual action plan signed by the buyer."),
    ]),
    Topic("competitor-bakeoff", "dir-ent", [
        ("Coach the team for the head-to-head evaluation against Vantora at Orchard Ridge", "orchard"),
        ("We are in a bake-off with Vantora: what has worked before?", None),
    ], [
        n(3, "T", COACHING, 460, 0.9, "Bake-off playbook: insist on a scripted evaluation with the buyer's own data, bring a customer reference from the same sector, and never demo Vantora's weak spots by name."),
        n(3, "C", PATTERN, 350, 0.85, "Against Vantora we win on implementation time (6 weeks vs 5 months) and lose on price; lead with time to value."),
        n(2, "P", LEARNING, 100, 0.6, "Competitive evaluations we lost were unscripted: the rival set the agenda.", paraphrase=True),
        n(2, "T", ACCOUNT, 12, 0.75, "Orchard Ridge shortlisted us and Vantora; the decision committee meets on 18 December.", account="orchard"),
        n(1, "C", COACHING, 280, 0.75, "Never disparage a competitor in writing; compare capabilities, not companies."),
        n(0, "T", LEARNING, 20, 0.5, "The Vantage Point conference booth cost us $12k for 9 leads."),
        never("X:ae-ent", LEARNING, 15, 0.6, "Vantora dropped price 20% at Orchard Ridge yesterday."),
        never("SUP", PATTERN, 120, 0.85, "Against Vantora we win on price."),
        never("XW", COACHING, 150, 0.9, "In a bake-off against Vantora insist on a scripted evaluation."),
    ]),
    Topic("forecast-call", "dir-ent", [
        ("Prepare the Q4 forecast call with the VP Sales: which numbers does she expect?", None),
        ("Get ready for the quarterly commit review with the CRO", None),
    ], [
        n(3, "C", COACHING, 390, 0.9, "The head of sales reviews commit, best case and pipeline coverage by stage; bring the changes since last week, not the whole list.", paraphrase=True),
        n(3, "T", PATTERN, 180, 0.8, "Forecasts miss most when late-stage deals have no dated next step; check every commit deal for one."),
        n(2, "P", LEARNING, 60, 0.6, "The chief revenue officer asks first about deals that slipped twice.", paraphrase=True),
        n(2, "T", LEARNING, 35, 0.6, "Pipeline coverage for Q4 is 2.1x; the team target is 3x."),
        n(2, "C", COACHING, 372, 0.8, "Forecast categories: commit needs a dated plan the customer confirmed in writing; best case needs a named economic buyer.", twin="forecast-categories", also={"mutual-action-plan": 2}),
        n(0, "P", LEARNING, 8, 0.45, "Weather forecast: the Denver offsite may move indoors."),
        never("X:sdr-ent", LEARNING, 15, 0.5, "My Q4 pipeline numbers for the forecast call."),
        never("XT", COACHING, 100, 0.85, "Growth: the marketing forecast counts MQLs, not pipeline."),
    ]),
    Topic("discovery-coaching", "dir-ent", [
        ("Review discovery call quality for the two newest SDRs", None),
        ("What should reps ask on a first qualifying call?", None),
    ], [
        n(3, "T", COACHING, 480, 0.9, "Good discovery finds the pain, its cost, who owns the budget and what happens if nothing changes; talk less than 40% of the time."),
        n(3, "C", PATTERN, 310, 0.8, "Qualifying calls that uncover a measurable business problem convert to opportunities at twice the rate of product-led calls."),
        n(2, "T", LEARNING, 40, 0.6, "New reps pitch in the first five minutes; listening-ratio reviews fixed it within three weeks.", paraphrase=True),
        n(1, "C", COACHING, 330, 0.7, "Call recordings are kept 180 days; ask consent at the start of every recorded call."),
        n(0, "T", LEARNING, 22, 0.45, "Discovery Channel ad placements were removed from the awareness campaign."),
        never("X:sdr-ent", LEARNING, 12, 0.5, "My discovery calls run long; I talk too much."),
        never("XW", COACHING, 400, 0.9, "Good discovery finds the pain and who owns the budget."),
    ]),
    Topic("hospital-outreach", "sdr-ent", [
        ("Draft a first email to the CIO of a regional hospital", None),
        ("Write a cold opener for the chief medical officer at Lakeshore", "lakeshore"),
    ], [
        n(3, "P", COACHING, 420, 0.9, "For health systems, open with clinician time saved and patient throughput; never lead with features or AI.", paraphrase=True),
        n(3, "T", PATTERN, 210, 0.8, "Healthcare providers reply 2x more when the first line names a peer hospital network that already uses us."),
        n(2, "C", COACHING, 460, 0.85, "Never mention patient data in a cold email; compliance language belongs in the second touch.", twin="patient-data"),
        n(2, "P", ACCOUNT, 18, 0.75, "Lakeshore runs 14 community clinics; Dr. Ana Ruiz (CMO) cares about wait times and clinician burnout.", account="lakeshore"),
        n(2, "P", LEARNING, 55, 0.6, "Medical centre IT leaders answer on Tuesdays and Wednesdays before 9am.", paraphrase=True),
        n(0, "P", LEARNING, 10, 0.5, "The hospitality prospects in Denver prefer SMS to email."),
        n(0, "C", PATTERN, 150, 0.7, "Email sends are capped at 200 per rep per day to protect the sending domain."),
        never("X:sdr-growth", LEARNING, 30, 0.6, "Hospital CIOs reply to short emails with a peer name."),
        never("ARCH", COACHING, 520, 0.85, "For hospitals, lead with our HIPAA certification in the subject."),
        never("XW", PATTERN, 50, 0.8, "Health systems reply when the first line names a peer hospital."),
    ]),
    Topic("gone-dark", "sdr-ent", [
        ("The prospect at Lakeshore went quiet after the demo: write the next touch", "lakeshore"),
        ("A lead ghosted me after agreeing to a meeting: what now?", None),
    ], [
        n(3, "P", COACHING, 395, 0.9, "When a prospect stops replying, send one short message that offers an easy way out ('should I close your file?'); it revives about a fifth of silent threads.", paraphrase=True),
        n(3, "T", PATTERN, 230, 0.75, "After a no-show or no reply, switch channel (phone, then LinkedIn) before a third email.", paraphrase=True),
        n(2, "P", LEARNING, 45, 0.6, "Unresponsive leads re-engage more often with a relevant piece of news than with 'just checking in'.", paraphrase=True),
        n(2, "P", ACCOUNT, 11, 0.7, "The demo went well but their IT manager went on leave until the 20th.", account="lakeshore"),
        n(0, "P", LEARNING, 5, 0.45, "The demo environment went down during the Brightline call; reset it before demos."),
        never("X:sdr-growth", COACHING, 100, 0.85, "When a lead goes dark, send the break-up email after three touches."),
        never("SUP", ACCOUNT, 40, 0.7, "Lakeshore: IT manager is the decision maker and replies within a day.", account="lakeshore"),
    ]),
    Topic("ae-handoff", "sdr-ent", [
        ("Hand off the Brightline opportunity to the AE with a clean summary", "brightline"),
        ("What must a meeting handover to the account executive include?", None),
    ], [
        n(3, "T", COACHING, 440, 0.9, "A handover note to the account executive lists the pain, the budget owner, the timeline and the next step the prospect agreed to."),
        n(3, "P", LEARNING, 80, 0.65, "AEs reject about a quarter of booked meetings when the handoff lacks a confirmed pain; ask for it on the booking call."),
        n(2, "P", ACCOUNT, 14, 0.7, "Brightline: VP Operations Tom Reyes agreed to a 45-minute call on route optimisation; budget sits with the COO.", account="brightline"),
        n(1, "C", COACHING, 300, 0.75, "Opportunities are created in the CRM by the SDR at handover, with the source campaign filled in."),
        n(0, "C", PATTERN, 500, 0.85, "All customer data is encrypted with AES-256 at rest and TLS 1.3 in transit; keys are rotated every 90 days.", twin="aes", also={"security-review": 2}),
        never("X:ae-ent", LEARNING, 30, 0.6, "SDR handoffs missing the budget owner waste my first call."),
        never("XT", COACHING, 150, 0.85, "Growth: hand off inbound leads to an AE within one hour."),
    ]),
    Topic("cold-call-opener", "sdr-ent", [
        ("Open a cold call with a VP of Operations at a manufacturer", None),
        ("Phone prospecting script for plant managers in manufacturing", None),
    ], [
        n(3, "P", COACHING, 410, 0.9, "On cold calls, state why you are calling in one sentence and ask permission for 30 seconds; operations leaders hang up on small talk."),
        n(3, "T", PATTERN, 190, 0.75, "Factory leaders respond to unplanned downtime, not software; open with the cost of a stopped line.", paraphrase=True),
        n(2, "P", LEARNING, 65, 0.6, "Industrial prospects pick up between 7 and 8am, before the shift meeting.", paraphrase=True),
        n(2, "P", ACCOUNT, 100, 0.55, "Halvorsen's plant managers report to the VP Operations; they are measured on OEE.", account="halvorsen"),
        n(0, "P", LEARNING, 7, 0.45, "Operations at our own office moved the all-hands to Fridays."),
        never("X:ae-ent", LEARNING, 50, 0.5, "Cold calls to manufacturing VPs work before 8am."),
        never("XW", COACHING, 200, 0.9, "Ask permission for 30 seconds on cold calls."),
    ]),
    Topic("multithreading", "sdr-ent", [
        ("Find more people to talk to at Tidewater beyond our single contact", "tidewater"),
        ("We only know one person in the account: how do I reach other stakeholders?", None),
    ], [
        n(3, "T", COACHING, 430, 0.9, "Multi-thread every opportunity: at least three contacts, one of them the economic buyer, before the proposal.", paraphrase=True),
        n(3, "P", LEARNING, 75, 0.6, "Asking our one contact 'who else would be affected?' produced two new names in most calls."),
        n(2, "P", ACCOUNT, 20, 0.7, "Our only contact is Omar Haddad (analytics); the operations director and the CFO have not been reached.", account="tidewater"),
        n(2, "C", PATTERN, 260, 0.75, "Deals with four or more engaged buyers close at twice the rate of single-threaded ones.", paraphrase=True),
        n(0, "P", LEARNING, 9, 0.45, "Thread in #sales-ops about CRM contact fields being renamed."),
        never("X:ae-ent", COACHING, 80, 0.85, "Multi-thread Tidewater: reach the operations director.", account="tidewater"),
        never("XW", COACHING, 200, 0.9, "Multi-thread every opportunity with three contacts."),
    ]),
    Topic("inbound-speed", "sdr-growth", [
        ("A small business filled in the demo request form: respond", None),
        ("How fast should I follow up a new inbound lead from the website?", None),
    ], [
        n(3, "T", PATTERN, 380, 0.85, "Inbound leads called within five minutes qualify three times more often than after an hour."),
        n(3, "P", COACHING, 420, 0.9, "For SMB demo requests, offer a slot in the next 24 hours in the first reply and skip long discovery.", paraphrase=True),
        n(2, "P", LEARNING, 60, 0.6, "Companies under 50 staff book self-serve demos from the reply link more than calls.", paraphrase=True),
        n(1, "C", COACHING, 310, 0.75, "Inbound leads are routed by territory; SMB leads go to the growth team.", twin="routing"),
        n(0, "P", LEARNING, 12, 0.5, "The website footer form was broken for two days in October."),
        never("X:sdr-ent", LEARNING, 30, 0.6, "Demo requests answered within five minutes convert best."),
        never("XT", COACHING, 200, 0.85, "Enterprise: inbound leads from large companies go to the AE directly."),
    ]),
    Topic("webinar-finance", "mm-growth", [
        ("Plan the January virtual event for finance leaders", None),
        ("Drive registrations for our online session aimed at CFOs", None),
    ], [
        n(3, "T", PATTERN, 365, 0.85, "Webinars for finance executives fill when a customer CFO co-presents and the topic is a number (payback, cost per invoice).", paraphrase=True),
        n(3, "P", LEARNING, 100, 0.65, "Online events held Tuesday at 11am ET get 40% more attendees than Thursday afternoons."),
        n(2, "P", COACHING, 300, 0.85, "Invitations to virtual sessions go out three weeks ahead with two reminders; never more than four emails."),
        n(2, "C", COACHING, 330, 0.8, "Event speakers who are customers need marketing approval and a signed reference agreement."),
        n(0, "P", LEARNING, 15, 0.5, "January ad budget is split 60/40 between search and paid social."),
        never("X:ads-growth", LEARNING, 40, 0.5, "Paid promotion of the CFO webinar cost $95 per registrant."),
        never("XW", PATTERN, 100, 0.8, "Finance webinars fill when a customer CFO co-presents."),
    ]),
    Topic("service-line-campaign", "mm-growth", [
        ("Plan a campaign for the cardiology service line at hospital systems", None),
        ("Marketing to heart and vascular programmes at health systems", None),
    ], [
        n(3, "P", COACHING, 400, 0.9, "Health systems buy per clinical department: target cardiology and oncology leaders separately from IT, with outcomes from their own specialty.", paraphrase=True),
        n(3, "T", PATTERN, 270, 0.8, "Service line directors respond to benchmarks from peer programmes (door-to-balloon time for cardiology)."),
        n(2, "P", LEARNING, 70, 0.6, "Cardiologists engage with short video case studies more than PDFs."),
        n(2, "C", COACHING, 460, 0.85, "Never mention patient data in a cold email; compliance language belongs in the second touch.", twin="patient-data", also={"hospital-outreach": 2}),
        n(0, "P", LEARNING, 20, 0.55, "Subject lines under six words lifted open rates 18% in the Q3 nurture.", also={"trial-nurture": 2}),
        n(0, "C", PATTERN, 250, 0.7, "Our customer service line is staffed 8am-8pm ET; share the number on invoices."),
        never("X:sdr-ent", LEARNING, 30, 0.6, "Cardiology directors reply to benchmark data."),
        never("XW", COACHING, 200, 0.9, "Target cardiology and oncology leaders separately from IT."),
    ]),
    Topic("trial-nurture", "mm-growth", [
        ("Write the nurture sequence for trial users who stopped logging in", None),
        ("Re-engage evaluation accounts that went inactive", None),
    ], [
        n(3, "T", PATTERN, 390, 0.85, "Trial users inactive for 7 days come back most often after a one-click email that opens the exact report they last used."),
        n(3, "P", COACHING, 330, 0.85, "Nurture emails to dormant trials are plain text, from a named person, with one link; no newsletters.", paraphrase=True),
        n(2, "P", LEARNING, 120, 0.6, "A three-email win-back series recovered 9% of lapsed evaluations; a fourth email added nothing.", paraphrase=True),
        n(1, "C", COACHING, 380, 0.75, "Every marketing email carries an unsubscribe link and honours opt-outs within 24 hours.", twin="unsubscribe", also={"gdpr-list": 1}),
        n(0, "P", LEARNING, 14, 0.45, "Logging in to the ad platform now requires the shared 2FA phone."),
        never("X:sdr-growth", LEARNING, 30, 0.6, "Trial users who stopped logging in answer phone calls more than emails."),
        never("SUP", PATTERN, 60, 0.8, "Trial users inactive for 7 days should get the monthly newsletter."),
    ]),
    Topic("gdpr-list", "mm-growth", [
        ("Can we email the contacts we scanned at the Berlin trade show?", None),
        ("Rules for marketing emails to EU prospects", None),
    ], [
        n(3, "C", COACHING, 450, 0.95, "GDPR: badge scans give consent only for the follow-up the stand promised; add EU contacts to newsletters only after double opt-in.", paraphrase=True),
        n(3, "C", PATTERN, 300, 0.8, "European data protection law requires a lawful basis per purpose; legitimate interest covers one relevant follow-up, not a sequence.", paraphrase=True),
        n(2, "P", LEARNING, 90, 0.6, "DACH event leads opt in at 35% when the follow-up offers the talk's slides.", paraphrase=True),
        n(1, "C", COACHING, 380, 0.75, "Every marketing email carries an unsubscribe link and honours opt-outs within 24 hours.", twin="unsubscribe"),
        n(0, "P", LEARNING, 25, 0.5, "Berlin hotel prices triple during trade show weeks; book early."),
        never("ARCH", COACHING, 520, 0.9, "Trade show badge scans may be added to every newsletter."),
        never("XW", COACHING, 300, 0.9, "GDPR: badge scans are consent only for the promised follow-up."),
    ]),
    Topic("paid-social-cpl", "ads-growth", [
        ("Cut cost per lead on paid social for the healthcare campaign", None),
        ("Our LinkedIn ads are too expensive per lead: what worked before?", None),
    ], [
        n(3, "P", PATTERN, 380, 0.85, "On LinkedIn, document ads with a checklist halved CPL against demo-request ads for healthcare audiences."),
        n(3, "T", COACHING, 420, 0.9, "Narrow paid social to job function plus seniority and exclude current customers; broad audiences buy cheap clicks and expensive leads."),
        n(2, "P", LEARNING, 50, 0.6, "Lead gen forms prefilled from the profile convert 3x the landing page on the professional network.", paraphrase=True),
        n(2, "P", LEARNING, 20, 0.55, "The healthcare audience saturates after three weeks; rotate creative."),
        n(0, "P", LEARNING, 11, 0.5, "Price-per-click on the paid search campaign dropped after we paused broad match.", twin="ppc"),
        never("X:mm-growth", LEARNING, 40, 0.6, "LinkedIn document ads halved our cost per lead."),
        never("XW", PATTERN, 100, 0.85, "On LinkedIn, document ads halve cost per lead."),
    ]),
    Topic("remarketing", "ads-growth", [
        ("Set up remarketing for visitors of the pricing page", None),
        ("Retarget people who watched the product video but did not book", None),
    ], [
        n(3, "T", PATTERN, 360, 0.85, "Retargeting pricing-page visitors with a customer proof ad converts 4x better than a generic brand ad; cap frequency at 3 a week.", paraphrase=True),
        n(3, "P", COACHING, 300, 0.85, "Exclude anyone who booked or is a customer from re-engagement audiences, and stop after 30 days.", paraphrase=True),
        n(2, "P", LEARNING, 40, 0.6, "Video viewers who saw 75% convert on a second touch with a short demo offer."),
        n(1, "C", COACHING, 350, 0.75, "Tracking pixels need consent; the cookie banner controls every advertising tag.", also={"gdpr-list": 1}),
        n(0, "C", PATTERN, 380, 0.7, "List prices rose 6% in January 2026; quotes issued before then are honoured for 90 days.", twin="list-price", also={"pricing-discount": 1}),
        never("X:mm-growth", LEARNING, 20, 0.5, "Remarketing to pricing page visitors works."),
        never("SUP", COACHING, 100, 0.85, "Retarget everyone who visited the site, including customers."),
    ]),
    Topic("ad-budget-pacing", "ads-growth", [
        ("We are overspending the monthly ad budget by day 20: fix the pacing", None),
        ("Campaign money runs out before month end on LinkedIn", None),
    ], [
        n(3, "P", COACHING, 390, 0.85, "Use daily caps, not lifetime budgets, on campaigns that must last the whole month; check pacing every Monday."),
        n(3, "T", LEARNING, 18, 0.6, "Ad budget pacing: the healthcare campaign spent 80% of its monthly budget by day 12."),
        n(2, "P", LEARNING, 75, 0.6, "Spend spikes come from automated bidding after a creative refresh; lower the bid cap for a week.", paraphrase=True),
        n(0, "C", PATTERN, 330, 0.85, "During a budget freeze, deals that kept a signed order form with a deferred start date closed 2.4x more often than deals paused outright.", twin="freeze-pattern"),
        n(0, "P", LEARNING, 30, 0.5, "Month-end close for expenses is the 3rd; submit receipts before then."),
        never("X:mm-growth", LEARNING, 15, 0.5, "Ad budget ran out by day 20 again."),
        never("XW", COACHING, 200, 0.85, "Use daily caps for ad budgets."),
    ]),
    Topic("icp-list", "ads-growth", [
        ("Build the target account list for our ideal customer profile", None),
        ("Which companies should the ABM audience include?", None),
    ], [
        n(3, "C", COACHING, 470, 0.9, "ICP: 500-5,000 employees in healthcare, logistics, manufacturing or utilities, with a field workforce and a data team.", paraphrase=True),
        n(3, "T", PATTERN, 250, 0.8, "Account-based audiences of 300-500 named companies beat lists of 5,000 on pipeline per dollar.", paraphrase=True),
        n(2, "P", LEARNING, 60, 0.6, "Intent data on 'outage prediction' surfaced utilities we had never listed.", paraphrase=True),
        n(1, "C", COACHING, 310, 0.75, "Inbound leads are routed by territory; SMB leads go to the growth team.", twin="routing"),
        n(0, "P", LEARNING, 8, 0.45, "The company offsite list is due Friday; include dietary needs."),
        never("X:sdr-growth", LEARNING, 30, 0.6, "Our ideal customers have 500-5,000 employees."),
        never("ARCH", COACHING, 600, 0.9, "ICP: companies above 10,000 employees only."),
    ]),
]
# fmt: on

# Hand-written sentences for the background: important Company knowledge and everyday
# notes about nothing any task asks. They share everyday and surface words with tasks
# (email, call, budget, security, plan, lead ...) but not a topic. {slots} vary them.
COMPANY_BACKGROUND = [
    (COACHING, "Expense reports over ${amount} need a manager's approval before reimbursement."),
    (
        COACHING,
        "Book travel through the {tool} portal; economy class for flights under {hours} hours.",
    ),
    (COACHING, "Update the CRM opportunity stage within 24 hours of every {meeting}."),
    (COACHING, "Brand voice: plain words, active verbs, no exclamation marks in {channel} copy."),
    (
        COACHING,
        "Customer logos may appear in {channel} materials only with a signed logo agreement.",
    ),
    (COACHING, "Company swag orders for {event} go through the marketing operations queue."),
    (COACHING, "Hand over your accounts in the CRM before any leave longer than {days} days."),
    (COACHING, "Slack channels named #deal-* are for one opportunity each; archive them at close."),
    (COACHING, "New hires complete security awareness training in their first week."),
    (
        COACHING,
        "Commission statements are published on the {day}th; disputes go to sales operations within 30 days.",
    ),
    (
        COACHING,
        "The quarterly kickoff is mandatory; record your {meeting} notes before travelling.",
    ),
    (COACHING, "Press enquiries go to communications; never comment on {topic} to journalists."),
    (PATTERN, "Territories are reassigned every January; {region} accounts move with their owner."),
    (
        PATTERN,
        "Partner-sourced deals in {region} carry a {pct}% referral fee paid on cash received.",
    ),
    (
        PATTERN,
        "The office in {city} is closed on public holidays; the support rota covers customers.",
    ),
    (
        PATTERN,
        "Internal tools requests (licences for {tool}) are answered within two working days.",
    ),
    (PATTERN, "Case studies take about {weeks} weeks from interview to publication."),
    (PATTERN, "Meeting rooms in {city} are booked through the calendar resource list."),
    (
        PATTERN,
        "The {region} sales floor moves to the third floor in {month}; desks are unassigned.",
    ),
    (
        OBJECTION,
        "When a candidate asks about remote work, point them to the {city} hybrid policy page.",
    ),
    (LEARNING, "The {event} booth drew {count} visitors; most were students and other vendors."),
    (LEARNING, "Sales operations renamed the CRM field '{field}' to 'Primary use case'."),
    (
        ACCOUNT,
        "Our own {tool} contract renews in {month}; procurement of internal tools is IT's job.",
    ),
]

PERSONAL_BACKGROUND = [
    (LEARNING, "Blocked {day} morning for CRM clean-up; {count} stale contacts removed."),
    (LEARNING, "The {city} team lunch moved to {day}; bring the quarterly slides."),
    (LEARNING, "Recorded a short intro video for my {channel} profile."),
    (LEARNING, "Calendar sync with {tool} failed twice this week; IT has a ticket."),
    (LEARNING, "Finished the {tool} certification module on territory planning."),
    (LEARNING, "Out of office {month} {day2}-{day3}; {count} open tasks reassigned."),
    (LEARNING, "Email signature updated with the new {event} banner."),
    (LEARNING, "Listened to {count} call recordings from the {region} team for product knowledge."),
    (LEARNING, "Sent the weekly activity summary to the {region} channel."),
    (LEARNING, "{tool} dashboard now shows activities per day; mine average {count}."),
    (PATTERN, "My best hours for focused writing are before {hours}am."),
    (ACCOUNT, "Met {name} at the {event}; works in facilities, not a buyer."),
]

SLOTS = {
    "amount": ["150", "250", "500", "1,000"],
    "tool": ["Navan", "Gong", "HubSpot", "Outreach", "Salesforce", "Zoom"],
    "hours": ["4", "6", "7", "8"],
    "meeting": ["customer meeting", "demo", "QBR", "weekly one-to-one"],
    "channel": ["LinkedIn", "website", "newsletter", "event"],
    "event": ["SaaStr", "HIMSS", "Dreamforce", "Web Summit", "Gartner Symposium"],
    "days": ["3", "5", "10"],
    "count": ["3", "5", "12", "40", "120"],
    "day": ["Monday", "Tuesday", "Wednesday", "Friday", "15", "28"],
    "topic": ["funding", "layoffs", "acquisitions", "lawsuits"],
    "region": ["EMEA", "DACH", "Nordics", "US West", "APAC"],
    "pct": ["10", "15", "20"],
    "city": ["Denver", "London", "Berlin", "Austin", "Toronto"],
    "weeks": ["6", "8", "10"],
    "field": ["Use case 2", "Legacy segment", "Old region"],
    "month": ["February", "May", "August", "November"],
    "day2": ["2", "9", "16"],
    "day3": ["6", "13", "20"],
    "name": ["Jordan Lee", "Sam Patel", "Alex Kim", "Chris Moreau"],
}
