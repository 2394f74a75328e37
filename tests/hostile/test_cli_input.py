"""Bad input to the command line: one line on stderr, exit 2 (bad input) or 4 (not found),
nothing stored, and never a scheduler started by mistake; on both databases."""

from __future__ import annotations

import pytest

from core.settings import get_settings
from tests.test_cli import Run, acme, run  # noqa: F401  (fixtures)

HUGE = "9" * 23


@pytest.mark.parametrize(
    "args",
    [
        ("memory", "show", HUGE),
        ("memory", "archive", HUGE, "--by", "U0009"),
        ("promote", HUGE, "--to", "team", "--by", "U0001"),
        ("cycles", "show", HUGE),
        ("memory", "show", "0"),
    ],
    ids=["memory-show", "archive", "promote", "cycles-show", "zero"],
)
def test_an_id_out_of_range_is_not_found(acme: Run, args: tuple[str, ...]) -> None:  # noqa: F811
    result = acme(*args)

    assert result.code == 4, result.err
    assert "not found" in result.err and "internal error" not in result.err


@pytest.mark.parametrize(
    "args",
    [
        ("audit", "--limit", "-1"),
        ("memory", "list", "--limit", "0"),
        ("cycles", "list", "--limit", "-5"),
        ("context", "sdr-emea", "--task", "x", "--budget", "-1"),
        ("heartbeat", "--agent", ""),
        ("context-settings", "--company-half-life", "inf", "--by", "U0009"),
        ("context-settings", "--company-half-life", "1e400", "--by", "U0009"),
        ("context-settings", "--floor", "nan", "--by", "U0009"),
        ("agent", "create", "x", "--team", "emea", "--role", "sdr", "--channel", "not a channel"),
        ("agent", "set", "sdr-emea", "--channel", "#sales"),
        ("workspace", "create", "bad id", "--name", "Bad"),
        ("workspace", "create", "T" + "0" * 40, "--name", "Long"),
        ("workspace", "create", "T0003", "--name", "n" * 20_000),
        ("team", "create", "amer", "--name", "A\x00mericas"),
        ("member", "set", "U" + "0" * 40, "--role", "member"),
        ("coach", "sdr-emea", "Lead with\x00 compliance", "--by", "U0001"),
        ("task", "add", "sdr-emea", "Call\x00 Dana"),
    ],
    ids=lambda arg: " ".join(arg)[:40],
)
def test_bad_input_is_one_line_exit_2_and_stores_nothing(
    acme: Run,  # noqa: F811
    args: tuple[str, ...],
) -> None:
    before = acme("audit", "--limit", "1000").out
    result = acme(*args)

    assert result.code == 2, (result.code, result.out, result.err)
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert acme("audit", "--limit", "1000").out == before
    assert "Infinity" not in acme("context-settings", "--json").out


@pytest.mark.parametrize(
    "variable",
    [
        ("SALESBRAIN_DATABASE_URL", "banana"),
        ("SALESBRAIN_LLM", "banana"),
        ("SALESBRAIN_HEARTBEAT_LEASE_SECONDS", "-1"),
        ("SALESBRAIN_HEARTBEAT_CONCURRENCY", "many"),
    ],
)
def test_a_bad_configuration_names_the_variable(
    run: Run,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    variable: tuple[str, str],
) -> None:
    monkeypatch.setenv(*variable)
    get_settings.cache_clear()
    result = run("heartbeat", "--once")
    get_settings.cache_clear()

    assert result.code == 2
    assert result.err.startswith(f"error: {variable[0]}: ") and "internal" not in result.err


def test_heartbeat_of_one_workspace_among_several_exits_0(acme: Run) -> None:  # noqa: F811
    assert acme("workspace", "create", "T0002", "--name", "Globex").code == 0

    result = acme("heartbeat", "--once", "--workspace", "T0001")

    assert result.code == 0, result.err
    assert "cycle" in result.out
