"""Workspaces that installed the app, and where their installations are kept.

The bot tokens of a multi-workspace install live in slack_sdk's own installation and
OAuth-state tables. Their definitions come from slack_sdk itself, built here on our
metadata so that our migrations create them and `alembic check` watches them.
"""

from __future__ import annotations

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy.orm import Session

from core import audit, rules
from core.db import Workspaces
from core.models import Base, Workspace
from core.permissions import Actor

BOTS_TABLE = "slack_bots"
INSTALLATIONS_TABLE = "slack_installations"
OAUTH_STATES_TABLE = "slack_oauth_states"

bots = SQLAlchemyInstallationStore.build_bots_table(Base.metadata, BOTS_TABLE)
installations = SQLAlchemyInstallationStore.build_installations_table(
    Base.metadata, INSTALLATIONS_TABLE
)
oauth_states = SQLAlchemyOAuthStateStore.build_oauth_states_table(Base.metadata, OAUTH_STATES_TABLE)


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
