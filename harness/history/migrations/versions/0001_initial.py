"""Runs, their steps, criteria, headline metrics and per-second series.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False, unique=True),
        sa.Column("suite", sa.String(200), nullable=False, index=True),
        sa.Column("target_kind", sa.String(40), nullable=False),
        sa.Column("target_json", sa.Text, nullable=False),
        sa.Column("git_revision", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("interrupted", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("report_dir", sa.Text, nullable=False),
        sa.Column("owner_pid", sa.Integer, nullable=True),
        sa.Column("owner_started", sa.Float, nullable=True),
    )
    op.create_table(
        "steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "run_pk", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"),
            nullable=False, index=True,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("stage", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )
    op.create_table(
        "criteria",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "step_pk", sa.Integer, sa.ForeignKey("steps.id", ondelete="CASCADE"),
            nullable=False, index=True,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("observed", sa.Float, nullable=True),
        sa.Column("observed_text", sa.Text, nullable=True),
        sa.Column("threshold", sa.Float, nullable=True),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(16), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "step_pk", sa.Integer, sa.ForeignKey("steps.id", ondelete="CASCADE"),
            nullable=False, index=True,
        ),
        sa.Column("endpoint", sa.String(300), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.UniqueConstraint("step_pk", "endpoint", "phase", "name"),
    )
    op.create_table(
        "series",
        sa.Column(
            "step_pk", sa.Integer, sa.ForeignKey("steps.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("columns_json", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("series", "metrics", "criteria", "steps", "runs"):
        op.drop_table(table)
