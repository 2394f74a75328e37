"""Model lifecycle: states from a fixture table and a frozen clock, not today's SDK or date."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from core import clock, lifecycle
from core.errors import InvalidInput
from core.lifecycle import Catalogue, ModelState, ModelStatus

NOV_23 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DEC_01 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

TABLE = Catalogue(
    known=("claude-new-2", "claude-new-1", "claude-old-1"),
    deprecated={"claude-old-1": date(2026, 11, 30)},
    record={"claude-gone-1": date(2026, 11, 30), "claude-old-1": date(2026, 1, 1)},
)


def test_each_state_follows_the_table_and_the_date() -> None:
    before, after = NOV_23.date(), DEC_01.date()
    assert TABLE.status("claude-new-1", after).state is ModelState.CURRENT
    assert TABLE.status("claude-old-1", before) == ModelStatus(
        "claude-old-1", ModelState.DEPRECATED, date(2026, 11, 30)
    )
    assert TABLE.status("claude-old-1", after).state is ModelState.RETIRED
    # On its end-of-life date a model is retired: that is the day it stops answering.
    assert TABLE.status("claude-old-1", date(2026, 11, 30)).state is ModelState.RETIRED
    assert TABLE.status("gpt-4", after).state is ModelState.UNKNOWN


def test_a_model_that_left_the_sdk_is_retired_by_salesbrains_own_record() -> None:
    gone = TABLE.status("claude-gone-1", DEC_01.date())
    assert (gone.state, gone.end_of_life) == (ModelState.RETIRED, date(2026, 11, 30))
    assert gone.describe() == "retired on 2026-11-30"
    # Before its date the record says deprecated, even with no SDK listing it.
    assert TABLE.status("claude-gone-1", NOV_23.date()).state is ModelState.DEPRECATED


def test_the_sdks_table_wins_over_the_record_while_it_lists_a_model() -> None:
    assert TABLE.status("claude-old-1", NOV_23.date()).end_of_life == date(2026, 11, 30)


def test_known_models_list_current_first_then_deprecated_then_retired() -> None:
    with lifecycle.using(TABLE), clock.frozen_at(NOV_23):
        listed = [(s.model, s.describe()) for s in lifecycle.known_models()]
    assert listed == [
        ("claude-new-2", "current"),
        ("claude-new-1", "current"),
        ("claude-old-1", "deprecated, end of life 2026-11-30"),
        ("claude-gone-1", "deprecated, end of life 2026-11-30"),
    ]


def test_retired_and_unknown_ids_are_refused_with_the_current_models_named() -> None:
    with lifecycle.using(TABLE), clock.frozen_at(DEC_01):
        with pytest.raises(InvalidInput) as retired:
            lifecycle.check_choosable("claude-old-1")
        with pytest.raises(InvalidInput) as unknown:
            lifecycle.check_choosable("gpt-4")
        with pytest.raises(InvalidInput):
            lifecycle.check_choosable("claude-gone-1", force=True)
        assert lifecycle.check_choosable("claude-next-9", force=True).state is ModelState.UNKNOWN
        assert lifecycle.check_choosable("claude-new-1").state is ModelState.CURRENT
    assert str(retired.value) == (
        "model: claude-old-1 was retired on 2026-11-30; current models: claude-new-2, claude-new-1"
    )
    assert str(unknown.value).startswith("model: gpt-4 is not a model this installation knows")
    assert str(unknown.value).endswith("current models: claude-new-2, claude-new-1")


def test_the_upgrade_hint_names_the_date_and_the_command() -> None:
    with lifecycle.using(TABLE), clock.frozen_at(NOV_23):
        hint = lifecycle.upgrade_hint("sdr-emea", "claude-old-1")
        assert lifecycle.upgrade_hint("sdr-emea", "claude-new-1") is None
    assert hint == (
        "sdr-emea runs on claude-old-1, which reaches end of life on 2026-11-30: upgrade with "
        "`salesbrain agent set sdr-emea --model claude-sonnet-5-5` (memory is kept)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("November 30th, 2026", date(2026, 11, 30)),
        ("June 1st, 2026", date(2026, 6, 1)),
        ("January 22nd, 2027", date(2027, 1, 22)),
        ("July 3rd, 2025", date(2025, 7, 3)),
        ("2026-11-30", date(2026, 11, 30)),
        ("Smarch 3rd, 2026", None),
        ("February 30th, 2026", None),
        ("soon", None),
    ],
)
def test_end_of_life_dates_are_read_as_the_sdk_writes_them(text: str, expected: date) -> None:
    assert lifecycle.parse_date(text) == expected


def test_the_sdk_table_is_read_as_a_literal_never_run(tmp_path: Path) -> None:
    table = tmp_path / "deprecated_models.py"
    table.write_text(
        "from typing import Dict\n\nraise SystemExit('executed')\n\n"
        'DEPRECATED_MODELS: Dict[str, str] = {"claude-x": "March 2nd, 2027", "claude-y": "?"}\n'
    )
    assert lifecycle.read_sdk_table(table) == {"claude-x": date(2027, 3, 2)}
    assert lifecycle.read_sdk_table(tmp_path / "missing.py") == {}


def test_the_installed_sdks_files_are_still_in_a_format_the_parser_understands() -> None:
    """Only the format is checked here: which models the SDK lists changes with each release."""
    sdk = lifecycle._sdk_directory()
    assert sdk is not None
    table_file = sdk / "_data" / "deprecated_models.py"
    entries = table_file.read_text().count('": "')
    parsed = lifecycle.read_sdk_table(table_file)
    assert len(parsed) == entries, "an entry of the SDK's table has a date we cannot parse"
    known = lifecycle.read_sdk_models(sdk / "types" / "model.py")
    assert known and all(model.startswith("claude-") for model in known)


def test_salesbrains_record_has_a_date_and_a_source_for_every_model() -> None:
    record = lifecycle.read_record(lifecycle.RECORD)
    assert record["claude-sonnet-4-5"] == date(2026, 11, 30)
    entries = tomllib.loads(lifecycle.RECORD.read_text())["models"]
    assert all(isinstance(e["end_of_life"], date) and e["source"] for e in entries.values())
