"""Where the bot tokens of a multi-workspace install are kept: slack_sdk's own installation
and OAuth-state tables. Their definitions come from slack_sdk itself, built here on our
metadata so that our migrations create them and `alembic check` watches them.
"""

from __future__ import annotations

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from core.models import Base

BOTS_TABLE = "slack_bots"
INSTALLATIONS_TABLE = "slack_installations"
OAUTH_STATES_TABLE = "slack_oauth_states"

bots = SQLAlchemyInstallationStore.build_bots_table(Base.metadata, BOTS_TABLE)
installations = SQLAlchemyInstallationStore.build_installations_table(
    Base.metadata, INSTALLATIONS_TABLE
)
oauth_states = SQLAlchemyOAuthStateStore.build_oauth_states_table(Base.metadata, OAUTH_STATES_TABLE)
