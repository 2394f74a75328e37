"""`salesbrain signals import | analyze | review` as a user runs them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.signals.simulation import Campaign, as_csv, as_jsonl, simulate
from tests.test_cli import Run, acme, run  # noqa: F401  (fixtures)

GOOD_AND_BAD = (
    "id,type,occurred_at,agent,thread,reply_text\n"
    "s1,email_sent,2026-11-02T09:00:00Z,sdr-emea,t1,\n"
    "s2,email_sent,not a time,sdr-emea,t2,\n"
    's3,email_replied,2026-11-02T10:00:00Z,sdr-emea,t1,"Not now,\nmaybe in spring"\n'
    "s4,email_opened,2026-11-02T10:00:00Z,sdr-ghost,t1,\n"
)


@pytest.fixture
def team(acme: Run) -> Run:  # noqa: F811
    for args in [
        ("agent", "create", "ae-emea", "--team", "emea", "--role", "account_executive"),
        ("agent", "create", "dir-emea", "--team", "emea", "--role", "director"),
    ]:
        assert acme(*args).code == 0
    return acme


def test_import_reports_new_known_and_bad_rows_by_line_as_json(team: Run, tmp_path: Path) -> None:
    path = tmp_path / "signals.csv"
    path.write_text(GOOD_AND_BAD)

    first = team("signals", "import", str(path), "--json")
    again = team("signals", "import", str(path), "--json")

    bad = [
        {"line": 3, "reason": "occurred_at 'not a time' is not an ISO 8601 time"},
        {"line": 6, "reason": "unknown agent 'sdr-ghost'"},
    ]
    assert first.json() == {"new": 2, "known": 0, "bad": bad, "bad_total": 2}
    assert again.json() == {"new": 0, "known": 2, "bad": bad, "bad_total": 2}
    assert first.code == 2
    assert (
        first.err
        == "error: file: 2 bad row(s), the first at line 3; the good rows were stored (2 new)\n"
    )


def test_a_clean_json_lines_import_succeeds_and_says_what_it_stored(
    team: Run, tmp_path: Path
) -> None:
    path = tmp_path / "signals.jsonl"
    campaign = Campaign(agents=("sdr-emea",), sends_per_agent=20)
    path.write_text("".join(as_jsonl(simulate(campaign))))
    lines = len(path.read_text().splitlines())

    result = team("signals", "import", str(path))

    assert result.code == 0, result.err
    assert result.out == f"{lines} new, 0 already known, 0 bad\n"


@pytest.mark.parametrize(
    ("content", "code", "words"),
    [
        (b"\xff\xfe garbage", 2, "is not UTF-8 text"),
        (b"id,agent\ns1,sdr-emea\n", 2, "the CSV header lacks type, occurred_at"),
        (None, 2, "does not exist"),
    ],
)
def test_an_unreadable_file_is_one_error_line(
    team: Run, tmp_path: Path, content: bytes | None, code: int, words: str
) -> None:
    path = tmp_path / "signals.csv"
    if content is not None:
        path.write_bytes(content)
    result = team("signals", "import", str(path))
    assert result.code == code
    assert words in result.err and result.err.count("\n") == 1


def test_analyze_writes_findings_and_review_lists_them_for_the_director(
    team: Run, tmp_path: Path
) -> None:
    path = tmp_path / "signals.csv"
    campaign = Campaign(
        agents=("sdr-emea", "ae-emea"), effects={"subject_format": {"question": 0.5}}, objections={}
    )
    path.write_text("".join(as_csv(simulate(campaign))))
    assert team("signals", "import", str(path)).code == 0

    analysed = team("signals", "analyze", "--json").json()
    again = team("signals", "analyze")
    review = team("signals", "review", "--team", "emea", "--json").json()
    readable = team("signals", "review", "--team", "emea")

    assert {(c["action"], c["agent"], c["type"]) for c in analysed["changes"]} == {
        ("new", "sdr-emea", "learning"),
        ("new", "ae-emea", "learning"),
        ("new", "dir-emea", "pattern"),
    }
    assert analysed["holding"] == 3
    assert again.out.startswith("3 scope(s) analysed, 3 finding(s) hold; 0 new, 0 updated")
    [candidate] = review["candidates"]
    pattern = next(c for c in analysed["changes"] if c["type"] == "pattern")
    assert candidate["block"] == pattern["id"]
    assert candidate["reason"].startswith("holds for 2 agents of team emea")
    assert "salesbrain promote BLOCK --to team" in readable.out

    promoted = team("promote", str(candidate["block"]), "--to", "team", "--by", "dir-emea")
    assert promoted.code == 0, promoted.err
    refused = team("promote", str(candidate["block"]), "--to", "team", "--by", "sdr-emea")
    assert refused.code == 3
    assert team("signals", "review", "--team", "emea", "--json").json()["candidates"] == []


def test_review_of_an_unknown_team_is_not_found(team: Run) -> None:
    result = team("signals", "review", "--team", "nowhere")
    assert result.code == 4 and "team 'nowhere' not found" in result.err


def test_review_lists_a_team_copy_its_finding_moved_on_from_and_memory_refresh_fixes_it(
    team: Run, tmp_path: Path
) -> None:
    first = Campaign(
        agents=("sdr-emea", "ae-emea"), effects={"subject_format": {"question": 0.5}}, objections={}
    )
    more = replace(first, seed=7, id_prefix="more-")
    for number, campaign in enumerate((first, more)):
        path = tmp_path / f"signals-{number}.csv"
        path.write_text("".join(as_csv(simulate(campaign))))
        assert team("signals", "import", str(path)).code == 0
        assert team("signals", "analyze").code == 0
        if number == 0:
            [candidate] = team("signals", "review", "--team", "emea", "--json").json()["candidates"]
            assert (
                team("promote", str(candidate["block"]), "--to", "team", "--by", "dir-emea").code
                == 0
            )

    review = team("signals", "review", "--team", "emea", "--json").json()
    readable = team("signals", "review", "--team", "emea").out

    [stale] = review["stale"]
    assert (stale["action"], stale["current"]) == ("refresh", candidate["block"])
    assert stale["finding"] == "open_rate/subject_format/question"
    assert "stale on the Team Brain of emea (their findings moved on):" in readable
    block = stale["block"]
    assert f"\nblock {block} (open_rate/subject_format/question): Across team emea" in readable
    assert f"\n  do:  salesbrain memory refresh {block} --by <director of emea>\n" in readable

    refused = team("memory", "refresh", str(stale["block"]), "--by", "sdr-emea")
    refreshed = team("memory", "refresh", str(stale["block"]), "--by", "dir-emea")
    again = team("memory", "refresh", str(stale["block"]), "--by", "dir-emea")

    assert refused.code == 3 and refused.err.count("\n") == 1
    assert refreshed.code == 0, refreshed.err
    assert refreshed.out.startswith(
        f"block {stale['block']} on the team brain now says what block {candidate['block']} says: "
    )
    assert again.code == 2
    assert again.err == (
        f"error: block {stale['block']} already says what block {candidate['block']} says\n"
    )
    assert team("signals", "review", "--team", "emea", "--json").json()["stale"] == []
