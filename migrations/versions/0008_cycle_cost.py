"""a cycle's cost

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 18:45:00

Each cycle stores what its model calls cost in US dollars, computed when the cycle is stored
from its tokens and the price table of the time (core/data/model_prices.toml): NULL when the
model had no price (and for cycles stored before this migration), 0 for the offline backend.
Additive: a replica of the previous version writes cycles without it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cycles") as batch:
        batch.add_column(sa.Column("cost_usd", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cycles") as batch:
        batch.drop_column("cost_usd")
