"""The README's walk-through, run literally: its commands in order on a fresh database.

README.md marks the blocks a newcomer types in order with the info string ```` ```sh
walk-through ````. Each line of such a block is one `salesbrain` command; it must exit 0, or
the status its comment names (`# exit 3: ...`). The plain fence right after a walk-through
block (blank lines between are fine) shows what the block's LAST command prints (its
standard output, or its error line when it fails), and must match it line for line
(trailing spaces aside). Every other block of the README is reference and is not run.

When the product's output changes on purpose, the failure says which command printed what
and where its output block is: paste it there, or run the test with
SALESBRAIN_UPDATE_README=1 to have the blocks rewritten (then read the diff).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pytest

from bot.cli import main
from core.clock import frozen_at
from core.models import BlockType, SignalType
from core.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# Every command runs at this instant: times and ages in the output do not depend on today.
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# Set it to have the test write what the commands printed into README.md's output blocks.
UPDATE = "SALESBRAIN_UPDATE_README"

FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Command:
    line: int  # README.md line number
    text: str
    args: list[str]
    exit_code: int


@dataclass(frozen=True)
class Step:
    commands: list[Command]
    output: str | None  # what the last command prints, as the README shows it
    output_line: int | None


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _command(line: int, text: str) -> Command:
    words = shlex.split(text, comments=True)
    assert words and words[0] == "salesbrain", (
        f"README.md:{line}: a walk-through line must be one `salesbrain` command: {text!r}"
    )
    status = re.search(r"#\s*exit (\d)", text)
    return Command(line, text.split("#")[0].strip(), words[1:], int(status[1]) if status else 0)


def walkthrough(text: str) -> list[Step]:
    """The README's walk-through blocks, in order, each with the output block after it."""
    fences = list(FENCE.finditer(text))
    steps = []
    for index, fence in enumerate(fences):
        if fence["info"].split()[1:2] != ["walk-through"]:
            continue
        first = _line_of(text, fence.start("body"))
        commands = [
            _command(first + number, line)
            for number, line in enumerate(fence["body"].splitlines())
            if line.strip() and not line.lstrip().startswith("#")
        ]
        following = fences[index + 1] if index + 1 < len(fences) else None
        shows_output = (
            following is not None
            and following["info"].strip() in ("", "text")
            and not text[fence.end() : following.start()].strip()
        )
        steps.append(
            Step(
                commands,
                following["body"] if following and shows_output else None,
                _line_of(text, following.start("body")) if following and shows_output else None,
            )
        )
    return steps


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").splitlines()]


@pytest.fixture
def fresh_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SALESBRAIN_DATABASE_URL", f"sqlite:///{tmp_path / 'salesbrain.db'}")
    monkeypatch.delenv("SALESBRAIN_LLM", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    # The walk-through's paths (examples/signals.csv) are relative to a clone's top.
    monkeypatch.chdir(ROOT)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    """`salesbrain ARGS` in this process, at NOW: exit status, standard output and error."""
    try:
        with frozen_at(NOW):
            main(args)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_readme_marks_a_walkthrough_with_outputs() -> None:
    steps = walkthrough(README.read_text(encoding="utf-8"))
    assert len(steps) >= 4
    assert sum(step.output is not None for step in steps) >= 3


@pytest.mark.usefixtures("fresh_database")
def test_the_readme_walkthrough_runs_in_order_and_prints_what_the_readme_shows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = README.read_text(encoding="utf-8")
    differences: list[tuple[Step, Command, str]] = []
    for step in walkthrough(text):
        for command in step.commands:
            code, out, err = _run(capsys, command.args)
            assert code == command.exit_code, (
                f"README.md:{command.line}: `{command.text}` exited {code}, "
                f"the README expects {command.exit_code}\n--- stdout:\n{out}--- stderr:\n{err}"
            )
        printed = out if code == 0 else err
        if step.output is not None and _lines(printed) != _lines(step.output):
            differences.append((step, command, printed))
    if differences and os.environ.get(UPDATE):
        README.write_text(_with_outputs(text, differences), encoding="utf-8")
        pytest.skip(f"{UPDATE} is set: README.md's output blocks now show what was printed")
    assert not differences, "\n\n".join(
        f"README.md:{command.line}: `{command.text}` printed:\n{printed}\n"
        f"but the output block at README.md:{step.output_line} shows:\n{step.output}"
        for step, command, printed in differences
    ) + (
        "\n\nIf the change is meant, put what it printed into those blocks "
        f"(`{UPDATE}=1 scripts/test tests/test_readme.py` does it; check the diff)."
    )


def _with_outputs(text: str, differences: list[tuple[Step, Command, str]]) -> str:
    """The README with each differing output block replaced by what was printed."""
    lines = text.splitlines(keepends=True)
    for step, _command, printed in sorted(differences, key=lambda d: -(d[0].output_line or 0)):
        assert step.output_line is not None and step.output is not None
        start = step.output_line - 1
        end = start + len(step.output.splitlines())
        lines[start:end] = [line + "\n" for line in _lines(printed)]
    return "".join(lines)


# What the README promises a newcomer outside the walk-through; no database needed.


def _words(text: str) -> str:
    """Help text with click's line wrapping undone."""
    return " ".join(text.split())


def test_version_names_the_installed_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, ["--version"]) == (0, f"salesbrain {metadata.version('salesbrain')}\n", "")


def test_signals_import_help_names_every_accepted_type(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, ["signals", "import", "--help"])
    assert code == 0
    assert "type is one of " + ", ".join(SignalType) in _words(out)


@pytest.mark.parametrize("command", [["coach"], ["memory", "list"]])
def test_block_type_option_help_names_every_block_type(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    code, out, _ = _run(capsys, [*command, "--help"])
    assert code == 0
    assert "Block type: " + ", ".join(BlockType) in _words(out)


def test_the_readme_links_only_files_a_clone_has() -> None:
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\((?!https?://|#)([^)#]+)", text)
    assert targets, "the README links docs/DESIGN.md"
    assert [target for target in targets if not (ROOT / target).exists()] == []
    assert "../" not in text
