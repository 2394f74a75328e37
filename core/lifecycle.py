"""Model end of life: which model ids Anthropic has deprecated, and until when."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

# The SDK ships this table and warns from it; we read the same table to tell managers.
_TABLE = Path("_data") / "deprecated_models.py"


@cache
def _deprecated_models() -> dict[str, str]:
    """The SDK's table, read from its file: importing the SDK itself takes over a second,
    which every CLI command and a cycle's write transaction would otherwise wait for."""
    sdk = importlib.util.find_spec("anthropic")
    if sdk is None or not sdk.submodule_search_locations:
        return {}
    path = Path(next(iter(sdk.submodule_search_locations))) / _TABLE
    spec = importlib.util.spec_from_file_location("salesbrain_deprecated_models", path)
    if spec is None or spec.loader is None or not path.is_file():
        return {}  # an SDK without the table: nothing known to be deprecated
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(getattr(module, "DEPRECATED_MODELS", {}))


def end_of_life(model: str) -> str | None:
    """The end-of-life date of a deprecated model id ("November 30th, 2026"), else None."""
    return _deprecated_models().get(model)


def upgrade_hint(handle: str, model: str) -> str | None:
    """One line for managers when an agent runs on a deprecated model."""
    date = end_of_life(model)
    if date is None:
        return None
    from core.models import DEFAULT_MODEL

    return (
        f"{handle} runs on {model}, which reaches end of life on {date}: "
        f"upgrade with `salesbrain agent set {handle} --model {DEFAULT_MODEL}` (memory is kept)"
    )
