"""bench/side_by_side.py: a revision's core and this tree's answer the same pairs, each in
its own process. No timing is asserted (the figures are the benchmark's to print)."""

from __future__ import annotations

import pytest

from bench import side_by_side


def test_head_and_the_working_tree_answer_alike_from_their_own_cores(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["HEAD", "--url", db_url, "--blocks", "5000", "--queries", "12", "--warm", "2"]
    side_by_side.main(args)
    out = capsys.readouterr().out
    assert "12 pairs" in out and "ratio of means" in out
    cores = dict(
        line.strip().split(": core from ") for line in out.splitlines() if "core from" in line
    )
    revision = next(name for name in cores if name.startswith("HEAD ("))
    assert "side_by_side-" in cores[revision]  # the revision's own copy of core/
    assert cores["working tree"] == str(side_by_side.ROOT / "core")
    assert "differing answers: 0 of 12" in out  # the same code gives the same answers


def test_an_unknown_revision_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        side_by_side.main(["no-such-revision", "--url", "postgresql://127.0.0.1/nothing"])
    assert "'no-such-revision' is not a revision" in str(exit_.value.code)


def test_a_database_it_cannot_open_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        side_by_side.main(["HEAD", "--url", "postgresql+psycopg://nobody@127.0.0.1:1/nothing"])
    message = str(exit_.value.code)
    assert message.startswith("side_by_side: cannot open the benchmark database:")
    assert "\n" not in message
