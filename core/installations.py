"""Workspaces that installed the app (their tokens are kept by bot/installation_store.py)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core import audit, rules
from core.db import Workspaces
from core.models import Workspace
from core.permissions import Actor


def workspace_installed(session: Session, slack_team_id: str, name: str | None) -> Workspace:
    """The app was installed in a Slack workspace: its workspace row, created the first time."""
    slack_team_id = rules.content(slack_team_id, "team_id", limit=32)
    workspace = Workspaces(session).find(slack_team_id)
    installer = Actor.system("install", origin="slack")
    if workspace is None:
        workspace = Workspace(
            slack_team_id=slack_team_id, name=(name or slack_team_id)[:200], settings={}
        )
        session.add(workspace)
        session.flush()
        audit.record(
            session, workspace, installer, "workspace.install", f"workspace:{slack_team_id}"
        )
    elif name and name != workspace.name:
        workspace.name = name[:200]
        session.flush()
    return workspace
