"""A pytest plugin: the run's header names the versions of salesbrain's direct dependencies.

They come from uv.lock (what scripts/bootstrap installs) and are checked against what is
installed, so that a run's output says what it ran against, and a run on anything else
says so loudly.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _direct_dependencies() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        requirements = tomllib.load(file)["project"]["dependencies"]
    names = (re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0] for requirement in requirements)
    return [name.lower().replace("_", "-") for name in names]


def _locked_versions() -> dict[str, str]:
    with (ROOT / "uv.lock").open("rb") as file:
        return {package["name"]: package["version"] for package in tomllib.load(file)["package"]}


def _installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def pytest_report_header() -> list[str]:
    locked = _locked_versions()
    names = _direct_dependencies()
    lines = ["locked (uv.lock): " + ", ".join(f"{n} {locked.get(n, '?')}" for n in names)]
    drift = [
        f"{name} {installed or 'missing'} (locked {locked.get(name, '?')})"
        for name in names
        if (installed := _installed_version(name)) != locked.get(name)
    ]
    if drift:
        lines.append("NOT THE LOCKED VERSIONS, installed: " + ", ".join(drift))
        lines.append("  scripts/bootstrap (or scripts/test) installs them from uv.lock")
    return lines
