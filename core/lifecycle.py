"""Model end of life: which model ids Anthropic has deprecated, and until when."""

from __future__ import annotations


def _deprecated_models() -> dict[str, str]:
    try:
        # The SDK ships this table and warns from it; we read the same table to tell managers.
        from anthropic._data import DEPRECATED_MODELS
    except ImportError:  # an SDK without the table: nothing known to be deprecated
        return {}
    return dict(DEPRECATED_MODELS)


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
