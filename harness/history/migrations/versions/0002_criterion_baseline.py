"""Criteria remember the baseline they were judged against (run id and value).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("criteria") as batch:
        batch.add_column(sa.Column("baseline_run_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("baseline_value", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("criteria") as batch:
        batch.drop_column("baseline_value")
        batch.drop_column("baseline_run_id")
