"""The history store's tables (SQLAlchemy 2 declarative models).

One row per run in ``runs``; its steps, their judged criteria, headline metrics
(per endpoint and per phase, ``""`` meaning all endpoints / the whole run) and a
compact per-second series (columnar JSON) hang off it. The schema is changed only
through the Alembic migrations in ``harness/history/migrations``: these models must
match their head revision (a test compares them).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


RUNNING = "running"
"""``runs.status`` while a run is under way (then pass / fail / error)."""


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), unique=True)
    suite: Mapped[str] = mapped_column(String(200), index=True)
    target_kind: Mapped[str] = mapped_column(String(40))
    target_json: Mapped[str] = mapped_column(Text, default="{}")
    git_revision: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    report_dir: Mapped[str] = mapped_column(Text, default="")
    owner_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    owner_started: Mapped[float | None] = mapped_column(Float, nullable=True)
    steps: Mapped[list[StepRow]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="StepRow.position"
    )


class StepRow(Base):
    __tablename__ = "steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text, default="")
    run: Mapped[RunRow] = relationship(back_populates="steps")
    criteria: Mapped[list[CriterionRow]] = relationship(
        back_populates="step", cascade="all, delete-orphan", order_by="CriterionRow.position"
    )
    metrics: Mapped[list[MetricRow]] = relationship(
        back_populates="step", cascade="all, delete-orphan"
    )
    series: Mapped[SeriesRow | None] = relationship(
        back_populates="step", cascade="all, delete-orphan"
    )


class CriterionRow(Base):
    __tablename__ = "criteria"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    step_pk: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    observed: Mapped[float | None] = mapped_column(Float, nullable=True)
    observed_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    unit: Mapped[str] = mapped_column(String(16), default="")
    phase: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    # revision 0002: what a baseline criterion was judged against
    baseline_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    baseline_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    step: Mapped[StepRow] = relationship(back_populates="criteria")


class MetricRow(Base):
    __tablename__ = "metrics"
    __table_args__ = (UniqueConstraint("step_pk", "endpoint", "phase", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    step_pk: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(300), default="")
    phase: Mapped[str] = mapped_column(String(16), default="")
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    step: Mapped[StepRow] = relationship(back_populates="metrics")


class SeriesRow(Base):
    __tablename__ = "series"

    step_pk: Mapped[int] = mapped_column(
        ForeignKey("steps.id", ondelete="CASCADE"), primary_key=True
    )
    columns_json: Mapped[str] = mapped_column(Text)
    step: Mapped[StepRow] = relationship(back_populates="series")
