"""Token cost per cycle: prompt caching against the fake Messages API, prices, the bill."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import anthropic
import pytest
from anthropic.types import TextBlockParam
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import blocks as slack_blocks
from core import clock, directory, memory, pricing, use_cases
from core.db import UnitOfWork, unit_of_work
from core.heartbeat.backends.offline import OfflineBackend
from core.heartbeat.config import HeartbeatSettings
from core.heartbeat.prompt import shared_prompt
from core.heartbeat.report import standing_order_lines
from core.heartbeat.tools import every_tool_definition
from core.models import DEFAULT_MODEL
from core.permissions import Actor
from core.pricing import Price, PriceTable, TokenCounts, cost_usd, table
from tests.conftest import ADMIN, EMEA_MANAGER, MEMBER, World
from tests.cycles import anthropic_backend, outbox_of, run_now
from tests.fakes.anthropic_api import (
    LOOKBACK_BLOCKS,
    FakeAnthropic,
    learn_then_finish,
    min_cacheable,
    tokens,
)
from tests.test_cli import Run, run  # noqa: F401  (fixtures)

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # a Monday
HOURLY = HeartbeatSettings(lease_seconds=120, model_timeout_seconds=5, model_max_retries=0)


class SimulatedTime:
    """One clock for the test's cycles and for the fake's cache lifetimes (its threads do
    not see core.clock's context)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def timestamp(self) -> float:
        return self.now.timestamp()


@pytest.fixture
def time_() -> Iterator[SimulatedTime]:
    simulated = SimulatedTime(START)
    with clock.running_on(lambda: simulated.now):
        yield simulated


@pytest.fixture
def fake(time_: SimulatedTime) -> Iterator[FakeAnthropic]:
    with FakeAnthropic(clock=time_.timestamp) as server:
        yield server


def _ask(client: anthropic.Anthropic, system_text: str, ttl: Literal["5m", "1h"] = "5m") -> Any:
    cached: TextBlockParam = {
        "type": "text",
        "text": system_text,
        "cache_control": {"type": "ephemeral", "ttl": ttl},
    }
    return client.messages.create(
        model=DEFAULT_MODEL,
        max_tokens=64,
        system=[cached],
        messages=[{"role": "user", "content": "Task: one line"}],
    ).usage


@pytest.fixture
def client(fake: FakeAnthropic) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-test", base_url=fake.url, max_retries=0)


def test_a_prefix_under_the_models_minimum_is_never_cached(client: anthropic.Anthropic) -> None:
    short = "Short rules. " * 250  # about 800 tokens: under Sonnet's 1,024
    assert tokens(short) < min_cacheable(DEFAULT_MODEL)
    for _ in range(2):
        usage = _ask(client, short)
        assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (0, 0)
        assert usage.input_tokens > 700  # billed in full, every time


def test_a_prefix_over_the_minimum_is_written_once_then_read(client: anthropic.Anthropic) -> None:
    long = "Long rules. " * 500
    first, second = _ask(client, long), _ask(client, long)
    assert first.cache_creation_input_tokens > 1024 and first.cache_read_input_tokens == 0
    assert first.cache_creation.ephemeral_5m_input_tokens == first.cache_creation_input_tokens
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0
    assert second.input_tokens == first.input_tokens  # only the uncached rest is fresh input


def test_a_5_minute_entry_lapses_between_hourly_uses_and_a_1_hour_entry_does_not(
    client: anthropic.Anthropic, time_: SimulatedTime
) -> None:
    five, hour = "Five minute rules. " * 400, "One hour rules. " * 400
    _ask(client, five, "5m"), _ask(client, hour, "1h")
    time_.now += timedelta(minutes=12)  # the next agent of a team of five on hourly heartbeats
    assert _ask(client, five, "5m").cache_read_input_tokens == 0
    again = _ask(client, hour, "1h")
    assert again.cache_read_input_tokens > 0 and again.cache_creation_input_tokens == 0
    time_.now += timedelta(minutes=59)  # each read starts the hour again
    assert _ask(client, hour, "1h").cache_read_input_tokens > 0
    time_.now += timedelta(minutes=61)
    assert _ask(client, hour, "1h").cache_read_input_tokens == 0


def _conversation(client: anthropic.Anthropic, system_text: str, turns: int, marked: int) -> Any:
    """A request of `turns` user turns with a 5-minute breakpoint on turn `marked` only."""
    messages: list[Any] = [
        {"role": role, "content": [{"type": "text", "text": f"Turn {i} of the talk."}]}
        for i in range(turns)
        for role in (("user",) if i == turns - 1 else ("user", "assistant"))
    ]
    marked_turn = messages[2 * marked]["content"][0]
    marked_turn["cache_control"] = {"type": "ephemeral", "ttl": "5m"}
    system: TextBlockParam = {"type": "text", "text": system_text}
    return client.messages.create(
        model=DEFAULT_MODEL, max_tokens=64, system=[system], messages=messages
    ).usage


def test_a_breakpoint_reads_an_entry_at_most_20_blocks_before_it(
    client: anthropic.Anthropic,
) -> None:
    rules = "Conversation rules. " * 400
    written = _conversation(client, rules, turns=2, marked=1)
    near = _conversation(client, rules, turns=11, marked=10)  # 18 blocks further on
    assert near.cache_read_input_tokens == written.cache_creation_input_tokens
    far = _conversation(client, "Other rules. " * 600, turns=2, marked=1)
    assert far.cache_creation_input_tokens > 0
    beyond = _conversation(client, "Other rules. " * 600, turns=13, marked=12)  # 22 further
    assert LOOKBACK_BLOCKS < 2 * (13 - 2) and beyond.cache_read_input_tokens == 0


def test_breakpoints_the_api_refuses_are_refused_by_the_fake(client: anthropic.Anthropic) -> None:
    def marked(ttl: str) -> Any:
        return {
            "type": "text",
            "text": "Rules.",
            "cache_control": {"type": "ephemeral", "ttl": ttl},
        }

    for system in ([marked("5m"), marked("1h")], [marked("1h")] * 5):
        with pytest.raises(anthropic.BadRequestError):
            client.messages.create(
                model=DEFAULT_MODEL,
                max_tokens=64,
                system=system,
                messages=[{"role": "user", "content": "Task: one line"}],
            )


def test_the_stable_prefix_is_long_enough_to_cache_on_the_default_model() -> None:
    prefix = json.dumps(list(every_tool_definition())) + shared_prompt(())
    # Twice the minimum: a real tokenizer counts more than the fake's 4 characters a token.
    assert tokens(prefix) >= 2 * min_cacheable(DEFAULT_MODEL)


def _team_of_five(engine: Engine, world: World) -> list[str]:
    """EMEA's sdr, ae and director, plus a marketing and an ad manager; a company policy."""
    with unit_of_work(engine) as session:
        for handle, role in (("mm-emea", "marketing_manager"), ("ads-emea", "ad_manager")):
            directory.create_agent(session, world.workspace, handle, team="emea", role=role)
        _company_policy(session, world)
    return ["sdr-emea", "ae-emea", "dir-emea", "mm-emea", "ads-emea"]


def _company_policy(session: Session, world: World) -> int:
    """A standing order of the Company Brain, written by an admin: in every prompt's prefix."""
    return memory.write_company(
        session,
        world.workspace,
        "Never offer a discount above 10% without the director's approval",
        by=Actor.member(ADMIN),
        type="coaching",
        importance=0.9,
    ).id


def _hours_of_cycles(
    engine: Engine, world: World, fake: FakeAnthropic, time_: SimulatedTime, hours: int
) -> list[dict[str, Any]]:
    """Each agent of the team once an hour, 12 minutes apart (as their jitter spreads them)."""
    handles = _team_of_five(engine, world)
    backend = anthropic_backend(fake.url, HOURLY)
    cycles = []
    for hour in range(hours):
        for slot, handle in enumerate(handles):
            time_.now = START + timedelta(hours=hour, minutes=12 * slot, seconds=37 * hour)
            cycle = run_now(engine, world.workspace, handle, backend, HOURLY)
            assert cycle["status"] == "succeeded", cycle["error"]
            cycles.append(cycle)
    return cycles


def test_a_team_of_five_on_hourly_heartbeats_reads_most_of_its_input_from_cache(
    engine: Engine, world: World, fake: FakeAnthropic, time_: SimulatedTime
) -> None:
    fake.responder = learn_then_finish  # two calls a cycle: a learning, then the report
    cycles = _hours_of_cycles(engine, world, fake, time_, hours=3)

    assert all(cycle["model_calls"] == 2 for cycle in cycles)
    usages = [request.usage for request in fake.requests]
    assert None not in usages and usages[0] and usages[0]["cache_read_input_tokens"] == 0
    # The first call of the day writes the prefix for an hour; no other call writes it again.
    hour_writes = [u["cache_creation"]["ephemeral_1h_input_tokens"] for u in usages if u]
    assert hour_writes[0] > 0 and not any(hour_writes[1:])
    # Every other cycle, whatever the agent's role, reads the prefix the first one wrote.
    shares = [cycle["tokens"]["cache_share"] for cycle in cycles[1:]]
    assert min(shares) >= 0.70, shares
    # The prefix holds the Company Brain's policy; the role and the memory come after it.
    request = fake.requests[0].body
    assert "Never offer a discount above 10%" in request["system"][0]["text"]
    assert request["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert "# Your role" in request["system"][1]["text"]
    assert "Never offer a discount above 10%" not in request["system"][1]["text"]
    assert {t["name"] for t in request["tools"]} >= {"propose_promotion", "finish_cycle"}


def test_the_later_calls_of_a_cycle_read_the_conversation_the_earlier_ones_sent(
    engine: Engine, world: World, fake: FakeAnthropic, time_: SimulatedTime
) -> None:
    fake.responder = learn_then_finish
    backend = anthropic_backend(fake.url, HOURLY)
    cycle = run_now(engine, world.workspace, "sdr-emea", backend, HOURLY)

    first, second = (request.usage for request in fake.requests)
    assert first is not None and second is not None
    # The first call writes the prefix for an hour and the agent's own part for 5 minutes.
    assert first["cache_creation"]["ephemeral_1h_input_tokens"] > 0
    assert first["cache_creation"]["ephemeral_5m_input_tokens"] > 0
    # The second reads all the first sent; only the newest turn is fresh (and written).
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    fresh = second["input_tokens"] + second["cache_creation_input_tokens"]
    assert fresh < 0.1 * second["cache_read_input_tokens"]
    # One breakpoint on the conversation, at its end; the stored conversation keeps none.
    for request in fake.requests:
        *earlier, last = request.body["messages"]
        assert last["content"][-1]["cache_control"] == {"type": "ephemeral", "ttl": "5m"}
        assert "cache_control" not in json.dumps(earlier)
    t = cycle["tokens"]
    assert t["cache_read"] == second["cache_read_input_tokens"]
    assert t["cache_write"] == sum(u["cache_creation_input_tokens"] for u in (first, second))


def test_a_cycle_leaves_the_standing_orders_in_its_prefix_out_of_its_memory_slots(
    engine: Engine,
    world: World,
    fake: FakeAnthropic,
    time_: SimulatedTime,
    uow: Callable[..., UnitOfWork],
) -> None:
    with unit_of_work(engine) as session:
        order = _company_policy(session, world)
        for learning in (
            "Prospects at hospital groups book meetings after a security-first opener.",
            "Qualified meetings come faster when the first email names a customer peer.",
            "Ideal-customer prospects in retail answer on Tuesday mornings; book then.",
        ):
            memory.write_learning(
                session,
                world.workspace,
                world.sdr,
                learning,
                by=Actor.agent("sdr-emea"),
                importance=0.5,
            )
    few_slots = HOURLY.model_copy(update={"context_limit": 3})
    backend = anthropic_backend(fake.url, few_slots)
    cycle = run_now(engine, world.workspace, "sdr-emea", backend, few_slots)

    # All three slots go to other blocks; the order is in the prompt all the same.
    assert len(cycle["context"]["blocks"]) == 3
    assert order not in [block["id"] for block in cycle["context"]["blocks"]]
    assert "Never offer a discount" in fake.requests[0].body["system"][0]["text"]
    # `cycles show` and `/brain why` say the order was there, and why.
    view = use_cases.cycle(uow(readonly=True), "T0001", cycle["id"])
    assert standing_order_lines(view) == [
        f"#{order} coaching (company): Never offer a discount above 10% without the "
        "director's approval"
    ]
    why = str(slack_blocks.why_message(view)["blocks"])
    assert "Company Brain standing orders" in why and "Never offer a discount" in why
    # `salesbrain context` and `/brain show` assemble without leaving it out: a standing order.
    shown = use_cases.agent_context(uow(readonly=True), "T0001", "@sdr-emea book meetings")
    assert [block.standing_order for block in shown.blocks if block.id == order] == [True]


def test_a_cycle_stores_its_cost_at_the_price_tables_prices(
    engine: Engine, world: World, fake: FakeAnthropic, time_: SimulatedTime
) -> None:
    backend = anthropic_backend(fake.url, HOURLY)
    cycle = run_now(engine, world.workspace, "sdr-emea", backend, HOURLY)
    t = cycle["tokens"]
    price = table().price(DEFAULT_MODEL)
    written = fake.requests[0].usage
    assert price is not None and written is not None and t["cache_write"] > 0
    by_ttl = written["cache_creation"]
    expected = (
        t["input"] * price.input
        + t["output"] * price.output
        # The prefix is written for an hour, the agent's own part for five minutes.
        + by_ttl["ephemeral_1h_input_tokens"] * price.cache_write_1h
        + by_ttl["ephemeral_5m_input_tokens"] * price.cache_write_5m
    ) / 1_000_000
    assert cycle["cost_usd"] == pytest.approx(expected)
    report = outbox_of(engine, cycle["id"])
    assert report is not None
    assert f"from cache, {t['output']:,} out · $0.0" in report.text


def test_an_offline_cycle_is_billed_nothing_and_says_so(engine: Engine, world: World) -> None:
    cycle = run_now(engine, world.workspace, "sdr-emea", OfflineBackend())
    assert cycle["cost_usd"] == 0.0
    report = outbox_of(engine, cycle["id"])
    assert report is not None and "Tokens: offline: no tokens billed" in report.text


def test_a_dated_model_id_is_priced_as_its_alias_and_an_unknown_model_not_at_all() -> None:
    prices = PriceTable(date(2026, 12, 1), {"claude-opus-4-5": Price(5, 25, 6.25, 10, 0.5)})
    million = 1_000_000
    tokens_ = TokenCounts(million, million, million, million, million)
    with pricing.using(prices):
        assert cost_usd("claude-opus-4-5-20251101", tokens_) == pytest.approx(46.75)
        assert cost_usd("claude-opus-4-5", tokens_) == pytest.approx(46.75)
        assert cost_usd("gpt-4", tokens_) is None


def test_the_price_table_in_the_repository_prices_the_default_model() -> None:
    price = table().price(DEFAULT_MODEL)
    assert price is not None and price.cache_read < price.input < price.cache_write_1h


def test_the_bill_sums_cycles_per_agent_and_per_team_and_managers_see_their_teams_week(
    engine: Engine,
    world: World,
    fake: FakeAnthropic,
    time_: SimulatedTime,
    uow: Callable[..., UnitOfWork],
) -> None:
    cycles = _hours_of_cycles(engine, world, fake, time_, hours=1)
    run_now(engine, world.workspace, "sdr-amer", OfflineBackend())

    by_agent = use_cases.usage(uow(readonly=True), "T0001", "7d", "agent")
    assert {line.name for line in by_agent.lines} == {
        "sdr-emea", "ae-emea", "dir-emea", "mm-emea", "ads-emea", "sdr-amer"
    }  # fmt: skip
    assert by_agent.total.cycles == 6 and by_agent.total.offline_cycles == 1
    assert by_agent.total.cost_usd == pytest.approx(sum(c["cost_usd"] for c in cycles))
    by_team = use_cases.usage(uow(readonly=True), "T0001", "24h", "team")
    assert [(line.name, line.cycles) for line in by_team.lines] == [("emea", 5), ("amer", 1)]
    assert by_team.lines[0].cache_share > 0.5

    home = use_cases.home(uow(readonly=True), "T0001", Actor.member(EMEA_MANAGER))
    assert home.spend is not None and [line.name for line in home.spend.lines] == ["emea"]
    view = slack_blocks.home_view(home)
    texts = [str(block) for block in view["blocks"]]
    assert any("Spend this week" in text for text in texts)
    assert any("*emea* · 5 cycles · $0.0" in text for text in texts)
    member = use_cases.home(uow(readonly=True), "T0001", Actor.member(MEMBER))
    assert member.spend is None
    admin = use_cases.home(uow(readonly=True), "T0001", Actor.member(ADMIN))
    assert admin.spend is not None and {line.name for line in admin.spend.lines} == {
        "emea",
        "amer",
    }


def test_usage_on_the_command_line_reports_the_bill_and_refuses_a_bad_period(
    run: Run,  # noqa: F811
) -> None:
    for args in [
        ("workspace", "create", "T0001", "--name", "Acme"),
        ("team", "create", "emea", "--name", "EMEA Sales"),
        ("agent", "create", "sdr-emea", "--team", "emea", "--role", "sdr"),
        ("heartbeat", "--agent", "sdr-emea"),
    ]:
        assert run(*args).code == 0, args
    listed = run("cycles", "list")
    assert "offline: no tokens billed" in listed.out
    by_team = run("usage", "--by", "team")
    assert by_team.code == 0, by_team.err
    assert by_team.out.splitlines()[0].split() == [
        "team", "cycles", "tokens", "in", "from", "cache", "out", "cost"
    ]  # fmt: skip
    assert "1 offline cycle(s): no tokens billed" in by_team.out
    as_json = run("usage", "--since", "2w", "--json").json()["usage"]
    assert as_json["by"] == "agent" and as_json["total"]["cycles"] == 1
    assert as_json["total"]["cost_usd"] == 0
    bad = run("usage", "--since", "last tuesday")
    assert bad.code == 2 and bad.err.startswith("error: since: 'last tuesday' is neither")
    assert run("usage", "--by", "model").code == 2
