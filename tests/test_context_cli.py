"""`salesbrain context` as a new user runs it, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.test_cli import Run, acme, run  # noqa: F401  (fixtures)

TASK = "Draft outreach to the CTO of a hospital group"


def test_a_coached_note_ranks_first_for_a_related_task_with_its_components_and_reasons(
    acme: Run,  # noqa: F811
) -> None:
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
        "why",
    ]
    assert first.split()[:4] == ["1", "1", "personal", "coaching"]
    assert "Lead with compliance angle for healthcare CTOs" in first
    assert first.endswith("matched 'healthcare' via hospital group")
    # The other note shares nothing with the task: there as a standing order, and says so.
    assert shown.out.splitlines()[3].split()[:2] == ["2", "2"]
    assert shown.out.splitlines()[3].endswith("standing order")

    data = acme("context", "sdr-emea", "--task", TASK, "--json").json()
    assert (data["agent"], data["task"]) == ("sdr-emea", TASK)
    top = data["blocks"][0]
    assert top["id"] == 1 and top["type"] == "coaching" and top["tier"] == "personal"
    assert top["score"] == round((1 + 1.0 * 0.9 + 0.5 * 1.0) / 2.5 * top["relevance"], 4)
    assert top["importance"] == 0.9 and top["recency"] == 1.0 and top["relevance"] == 1.0
    assert top["standing_order"] is False and top["named_as"] is None
    assert top["matched"] == [{"found": "healthcare", "via": "hospital group"}]
    assert data["blocks"][1]["standing_order"] is True and data["blocks"][1]["relevance"] == 0
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
    assert shown["half_life_days"]["coaching"] == 90 and shown["standing_orders"] == 2
    assert shown["importance_weight"] == 1.0 and shown["recency_weight"] == 0.5

    changed = acme(
        "context-settings", "--half-life", "learning=20", "--weight", "recency=0.1",
        "--standing-orders", "1", "--synonym-weight", "0.7", "--by", "U0009", "--json",
    )  # fmt: skip
    assert changed.code == 0, changed.err
    data = changed.json()["context_settings"]
    assert data["half_life_days"]["learning"] == 20 and data["recency_weight"] == 0.1
    assert data["standing_orders"] == 1 and data["synonym_weight"] == 0.7
    out = acme("context-settings").out
    assert "half-life learning: 20 days" in out and "durable types: coaching" in out

    for args, code, words in [
        (("--weight", "recency=0.2", "--by", "U0001"), 3, "only admins"),
        (("--weight", "recency=0.2"), 2, "--by"),
        (("--half-life", "gossip=3", "--by", "U0009"), 2, "half_life_days"),
        (("--half-life", "learning", "--by", "U0009"), 2, "NAME=NUMBER"),
        (("--weight", "luck=2", "--by", "U0009"), 2, "not importance or recency"),
        (("--weight", "recency=9", "--by", "U0009"), 2, "recency_weight"),
        (("--standing-orders", "-1", "--by", "U0009"), 2, "standing_orders"),
    ]:
        result = acme("context-settings", *args)
        assert result.code == code and words in result.err, result.err
    assert acme("context-settings", "--json").json()["context_settings"] == data
