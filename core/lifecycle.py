"""Model lifecycle: whether a model id is current, deprecated, retired or unknown, and since when.

Three sources, read from files rather than by importing the anthropic SDK (the import takes
over a second, which every CLI command and a cycle's write transaction would wait for):
- the SDK's `Model` type (anthropic/types/model.py): the model ids it knows;
- the SDK's table of deprecated models with their end-of-life dates;
- salesbrain's own dated record of retirements (core/data/retired_models.toml): the SDK
  drops a model from its table once it is retired, the very day it stops working.

The state depends on the date: core.clock decides what today is (the demo and the tests run
on a simulated or frozen clock).
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from core import clock
from core.errors import InvalidInput
from core.models import DEFAULT_MODEL

log = logging.getLogger(__name__)

RECORD = Path(__file__).parent / "data" / "retired_models.toml"
_SDK_TABLE = Path("_data") / "deprecated_models.py"
_SDK_MODEL_TYPE = Path("types") / "model.py"


class ModelState(StrEnum):
    CURRENT = "current"
    DEPRECATED = "deprecated"
    RETIRED = "retired"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ModelStatus:
    """One model id's state on one day, with its end-of-life date when it has one."""

    model: str
    state: ModelState
    end_of_life: date | None = None

    def describe(self) -> str:
        """The state in a few words: "deprecated, end of life 2027-01-22"."""
        if self.state is ModelState.DEPRECATED:
            return f"deprecated, end of life {self.end_of_life}"
        if self.state is ModelState.RETIRED:
            return f"retired on {self.end_of_life}"
        return self.state.value

    @property
    def is_default(self) -> bool:
        return self.model == DEFAULT_MODEL

    def as_dict(self) -> dict[str, Any]:
        """The `models --json` shape: model, state, end_of_life (ISO or null), default."""
        return {
            "model": self.model,
            "state": self.state.value,
            "end_of_life": self.end_of_life.isoformat() if self.end_of_life else None,
            "default": self.is_default,
        }


@dataclass(frozen=True)
class Catalogue:
    """What an installation knows about models: the SDK's ids and every end-of-life date."""

    # The ids the SDK knows, in the SDK's order (newest first).
    known: tuple[str, ...]
    # The SDK's table of deprecated models.
    deprecated: Mapping[str, date] = field(default_factory=dict)
    # salesbrain's record of models that reached end of life (the SDK's table wins).
    record: Mapping[str, date] = field(default_factory=dict)

    def status(self, model: str, today: date) -> ModelStatus:
        """The state of one model id on `today`."""
        end = self.deprecated.get(model) or self.record.get(model)
        if end is not None:
            state = ModelState.RETIRED if today >= end else ModelState.DEPRECATED
            return ModelStatus(model, state, end)
        if model in self.known:
            return ModelStatus(model, ModelState.CURRENT)
        return ModelStatus(model, ModelState.UNKNOWN)

    def statuses(self, today: date) -> list[ModelStatus]:
        """Every model id known, current first (in the SDK's order), then by end of life."""
        ids = dict.fromkeys([*self.known, *self.deprecated, *self.record])
        found = [self.status(model, today) for model in ids]
        order = list(ModelState)
        return sorted(
            found,
            key=lambda s: (order.index(s.state), -(s.end_of_life or date.min).toordinal()),
        )


_override: Catalogue | None = None


@contextmanager
def using(catalogue: Catalogue) -> Iterator[None]:
    """Judge models by another catalogue (tests: a fixture table, not today's SDK).

    A plain module variable, not a context variable: the Slack app answers on its own threads."""
    global _override
    previous, _override = _override, catalogue
    try:
        yield
    finally:
        _override = previous


def catalogue() -> Catalogue:
    """The catalogue in use: the installed SDK's and salesbrain's record, unless overridden."""
    return _override if _override is not None else installed_catalogue()


@cache
def installed_catalogue() -> Catalogue:
    """The installed anthropic SDK's model ids and deprecations, and salesbrain's record."""
    sdk = _sdk_directory()
    if sdk is None:
        return Catalogue(known=(), record=read_record(RECORD))
    return Catalogue(
        known=read_sdk_models(sdk / _SDK_MODEL_TYPE),
        deprecated=read_sdk_table(sdk / _SDK_TABLE),
        record=read_record(RECORD),
    )


def _sdk_directory() -> Path | None:
    spec = importlib.util.find_spec("anthropic")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def read_sdk_table(path: Path) -> dict[str, date]:
    """The SDK's DEPRECATED_MODELS table ({"claude-x": "November 30th, 2026"}) with its
    dates parsed; read as a literal, never executed. Empty when the SDK has no such file."""
    if not path.is_file():
        return {}
    table = _literal(path, "DEPRECATED_MODELS")
    if not isinstance(table, dict):
        return {}
    parsed = {}
    for model, text in table.items():
        when = parse_date(str(text))
        if when is None:
            log.warning("the SDK's end of life for %s is not a date: %r", model, text)
            continue
        parsed[str(model)] = when
    return parsed


def read_sdk_models(path: Path) -> tuple[str, ...]:
    """The model ids of the SDK's `Model` type (a Literal of ids, or any str)."""
    if not path.is_file():
        return ()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if _assigns(node, "Model"):
            return tuple(
                dict.fromkeys(
                    n.value
                    for n in ast.walk(node)
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)
                )
            )
    return ()


def read_record(path: Path) -> dict[str, date]:
    """salesbrain's record of end-of-life dates (the TOML table `models`)."""
    with path.open("rb") as file:
        models = tomllib.load(file).get("models", {})
    return {model: entry["end_of_life"] for model, entry in models.items()}


def _literal(path: Path, name: str) -> object:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if _assigns(node, name) and isinstance(node, ast.Assign | ast.AnnAssign):
            if node.value is None:
                return None
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return None
    return None


def _assigns(node: ast.stmt, name: str) -> bool:
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.target.id == name
    return False


_MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}
_DATE = re.compile(r"^\s*([A-Za-z]+)\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\s*$")


def parse_date(text: str) -> date | None:
    """A date as the SDK writes it ("November 30th, 2026"), or ISO ("2026-11-30"); else None."""
    found = _DATE.match(text)
    try:
        if found is None:
            return date.fromisoformat(text.strip())
        month = _MONTHS.get(found.group(1).lower())
        if month is None:
            return None
        return date(int(found.group(3)), month, int(found.group(2)))
    except ValueError:
        return None


def model_status(model: str) -> ModelStatus:
    """The state of a model id today (by core.clock)."""
    return catalogue().status(model, clock.now().date())


def known_models() -> list[ModelStatus]:
    """Every model id the installation knows, with its state today."""
    return catalogue().statuses(clock.now().date())


def current_models() -> list[str]:
    """The ids a new or upgraded agent may use today, the default first."""
    ids = [s.model for s in known_models() if s.state is ModelState.CURRENT]
    return sorted(ids, key=lambda model: model != DEFAULT_MODEL)


def end_of_life(model: str) -> str | None:
    """The end-of-life date (ISO) of a deprecated or retired model id, else None."""
    status = model_status(model)
    return status.end_of_life.isoformat() if status.end_of_life else None


def check_choosable(model: str, *, force: bool = False) -> ModelStatus:
    """Refuse a retired model id, and an unknown one unless forced (a model newer than the
    installed SDK); the one line names the current models."""
    status = model_status(model)
    if status.state is ModelState.RETIRED:
        problem = f"{model} was retired on {status.end_of_life}"
    elif status.state is ModelState.UNKNOWN and not force:
        problem = (
            f"{model} is not a model this installation knows "
            "(--force for a model newer than the installed anthropic SDK)"
        )
    else:
        return status
    raise InvalidInput("model", f"{problem}; current models: {', '.join(current_models())}")


def upgrade_command(handle: str) -> str:
    return f"salesbrain agent set {handle} --model {DEFAULT_MODEL}"


def retired_message(handle: str, status: ModelStatus) -> str:
    """Why a cycle on a retired model did not run, with the command that fixes it."""
    return f"model retired on {status.end_of_life}: `{upgrade_command(handle)}`"


def upgrade_hint(handle: str, model: str) -> str | None:
    """One line for managers when an agent runs on a deprecated or retired model."""
    status = model_status(model)
    if status.state is ModelState.DEPRECATED:
        when = f"reaches end of life on {status.end_of_life}"
    elif status.state is ModelState.RETIRED:
        when = f"was retired on {status.end_of_life}, so its cycles fail"
    else:
        return None
    return (
        f"{handle} runs on {model}, which {when}: "
        f"upgrade with `{upgrade_command(handle)}` (memory is kept)"
    )
