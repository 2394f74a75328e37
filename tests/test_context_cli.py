"""`salesbrain context` as a new user runs it, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.test_cli import Run, acme, run  # noqa: F401  (fixtures)

TASK = "Draft outreach to the CTO of a hospital group"


def test_a_coached_note_ranks_first_for_a_related_task_with_its_components(acme: Run) -> None:  # noqa: F811
    acme("coach", "sdr-emea", "Lead with compliance angle for healthcare CTOs", "--by", "U0001")
    acme("coach", "sdr-emea", "Keep first emails under 120 words", "--by", "U0001")

    shown = acme("context", "sdr-emea", "--task", TASK)
    assert shown.code == 0, shown.err
    header, _rule, first, *_ = shown.out.splitlines()
    assert header.split() == [
        "#",
        "id",
        "tier",
        "type",
        "importance",
        "recency",
        "relevance",
        "score",
        "content",
    ]
    assert first.split()[:4] == ["1", "1", "personal", "coaching"]
    assert "Lead with compliance angle for healthcare CTOs" in first

    data = acme("context", "sdr-emea", "--task", TASK, "--json").json()
    assert (data["agent"], data["task"]) == ("sdr-emea", TASK)
    top = data["blocks"][0]
    assert top["id"] == 1 and top["type"] == "coaching" and top["tier"] == "personal"
    assert top["score"] == round(top["importance"] * top["recency"] * top["relevance"], 4)
    assert top["importance"] == 0.9 and top["recency"] == 1.0 and top["relevance"] >= 0.2
    assert data["tokens"] == sum(block["tokens"] for block in data["blocks"])


def test_looking_at_the_context_is_not_usage(acme: Run) -> None:  # noqa: F811
    acme("coach", "sdr-emea", "Lead with compliance angle for healthcare CTOs", "--by", "U0001")
    acme("context", "sdr-emea", "--task", TASK)
    [block] = acme("memory", "list", "--json").json()["blocks"]
    assert block["times_surfaced"] == 0
    assert "informed: 0 cycles" in acme("memory", "show", "1").out


def test_the_prompt_view_and_errors(acme: Run) -> None:  # noqa: F811
    acme("coach", "sdr-emea", "Lead with compliance angle for healthcare CTOs", "--by", "U0001")
    prompt = acme("context", "sdr-emea", "--task", TASK, "--prompt")
    assert "## Personal Brain" in prompt.out
    assert "[block 1 | coaching] Lead with compliance angle" in prompt.out

    for args, code, words in [
        (("context", "sdr-emea"), 2, "--task"),
        (("context", "sdr-emea", "--task", TASK, "--limit", "0"), 2, "limit"),
        (("context", "sdr-emea", "--task", TASK, "--budget", "0"), 2, "token_budget"),
        (("context", "nobody", "--task", TASK), 4, "not found"),
    ]:
        result = acme(*args)
        assert result.code == code and words in result.err
        assert result.err.startswith("error: ") and result.err.count("\n") == 1


def test_db_optimize_compacts_the_index_and_keeps_the_context(acme: Run) -> None:  # noqa: F811
    acme("coach", "sdr-emea", "Lead with compliance angle for healthcare CTOs", "--by", "U0001")
    before = acme("context", "sdr-emea", "--task", TASK, "--json").json()
    optimized = acme("db", "optimize")
    assert optimized.code == 0, optimized.err
    assert acme("context", "sdr-emea", "--task", TASK, "--json").json() == before


def test_context_settings_are_shown_and_changed_by_admins(acme: Run) -> None:  # noqa: F811
    shown = acme("context-settings", "--json").json()["context_settings"]
    assert shown["half_life_days"]["coaching"] == 90 and shown["relevance_floor"] == 0.2

    changed = acme(
        "context-settings", "--half-life", "coaching=120", "--floor", "0.3", "--by", "U0009",
        "--json",
    )  # fmt: skip
    assert changed.code == 0, changed.err
    data = changed.json()["context_settings"]
    assert data["half_life_days"]["coaching"] == 120 and data["relevance_floor"] == 0.3
    assert "half-life coaching: 120 days" in acme("context-settings").out

    for args, code, words in [
        (("--floor", "0.1", "--by", "U0001"), 3, "only admins"),
        (("--floor", "0.1"), 2, "--by"),
        (("--half-life", "gossip=3", "--by", "U0009"), 2, "half_life_days"),
        (("--half-life", "coaching", "--by", "U0009"), 2, "NAME=NUMBER"),
        (("--exponent", "luck=2", "--by", "U0009"), 2, "is not a context setting"),
    ]:
        result = acme("context-settings", *args)
        assert result.code == code and words in result.err, result.err
    assert acme("context-settings", "--json").json()["context_settings"] == data
