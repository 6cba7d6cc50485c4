"""Model versions in the database: one table, every write committed before it returns."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa

from testbed.registry.database import ConnectionGate, create_engine
from testbed.registry.schemas import Stage, Status

metadata = sa.MetaData()

models_table = sa.Table(
    "models",
    metadata,
    sa.Column(
        "model_id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("name", sa.String(128), nullable=False, index=True),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("framework", sa.String(64), nullable=False),
    sa.Column("metrics", sa.JSON(), nullable=False),
    sa.Column("tags", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    # Order in which versions of a name went to production; rollback walks it backwards.
    sa.Column("production_seq", sa.Integer(), nullable=True),
    sa.UniqueConstraint("name", "version", name="uq_models_name_version"),
    sqlite_autoincrement=True,  # never reuse the id of a deleted model
)


class ModelMissing(LookupError):
    """No model with that id (or no version with that name)."""


class DuplicateModel(Exception):
    """(name, version) is already registered."""


class StageConflict(Exception):
    """The requested change conflicts with the model's state (e.g. nothing to roll back to)."""


@dataclass(frozen=True)
class ModelRecord:
    model_id: int
    name: str
    version: str
    status: Status
    stage: Stage
    framework: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    created_at: str = ""

    def to_body(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "stage": self.stage,
            "framework": self.framework,
            "metrics": dict(self.metrics),
            "tags": dict(self.tags),
            "created_at": self.created_at,
        }


def utc_timestamp(now: datetime | None = None) -> str:
    """RFC 3339 in UTC with microseconds: 2026-11-21T11:02:36.123456Z."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _record(row: sa.Row[Any]) -> ModelRecord:
    m = row._mapping
    return ModelRecord(
        model_id=int(m["model_id"]),
        name=m["name"],
        version=m["version"],
        status=cast(Status, m["status"]),
        stage=cast(Stage, m["stage"]),
        framework=m["framework"],
        metrics={str(k): float(v) for k, v in m["metrics"].items()},
        tags={str(k): str(v) for k, v in m["tags"].items()},
        created_at=m["created_at"],
    )


class ModelStore:
    """All database access of the registry. Methods are blocking (call them from threads)."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)
        self.gate = ConnectionGate(self.engine)
        self._is_sqlite = self.engine.dialect.name == "sqlite"
        # SQLite allows one writer: serialize writers here instead of failing on a busy lock.
        self._write_lock = threading.Lock()

    def create_tables(self) -> None:
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        lock = self._write_lock if self._is_sqlite else contextlib.nullcontext()
        with lock, self.engine.begin() as conn:
            yield conn

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def count(self) -> int:
        with self.engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(models_table)
            return int(conn.execute(query).scalar_one())

    def register(
        self,
        *,
        name: str,
        version: str,
        framework: str,
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
    ) -> ModelRecord:
        created_at = utc_timestamp()
        values = {
            "name": name,
            "version": version,
            "status": "active",
            "stage": "none",
            "framework": framework,
            "metrics": dict(metrics),
            "tags": dict(tags),
            "created_at": created_at,
            "production_seq": None,
        }
        try:
            with self._writing() as conn:
                query = sa.insert(models_table).values(**values).returning(models_table.c.model_id)
                model_id = int(conn.execute(query).scalar_one())
        except sa.exc.IntegrityError:
            raise DuplicateModel(
                f"model {name!r} version {version!r} is already registered"
            ) from None
        return ModelRecord(
            model_id=model_id,
            name=name,
            version=version,
            status="active",
            stage="none",
            framework=framework,
            metrics=dict(metrics),
            tags=dict(tags),
            created_at=created_at,
        )

    def get(self, model_id: int) -> ModelRecord:
        with self.engine.connect() as conn:
            return self._get(conn, model_id)

    def _get(self, conn: sa.Connection, model_id: int, *, for_update: bool = False) -> ModelRecord:
        query = sa.select(models_table).where(models_table.c.model_id == model_id)
        if for_update:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise ModelMissing(f"no model with id {model_id}")
        return _record(row)

    def versions(self, model_id: int) -> list[ModelRecord]:
        with self.engine.connect() as conn:
            name = self._get(conn, model_id).name
            rows = conn.execute(
                sa.select(models_table)
                .where(models_table.c.name == name)
                .order_by(models_table.c.model_id)
            ).all()
        return [_record(row) for row in rows]

    def _lock_name(self, conn: sa.Connection, name: str) -> list[sa.Row[Any]]:
        """Every version of ``name``, locked for the rest of the transaction (PostgreSQL)."""
        return list(
            conn.execute(
                sa.select(models_table)
                .where(models_table.c.name == name)
                .order_by(models_table.c.model_id)
                .with_for_update()
            ).all()
        )

    def transition(self, model_id: int, stage: Stage) -> ModelRecord:
        with self._writing() as conn:
            rows = self._lock_name(conn, self._get(conn, model_id).name)
            model = self._get(conn, model_id)  # re-read under the lock
            if model.status == "retired" and stage in ("staging", "production"):
                raise StageConflict(f"model {model_id} is retired and cannot move to {stage}")
            if stage == "production" and model.stage != "production":
                seqs = [r._mapping["production_seq"] for r in rows]
                next_seq = max([s for s in seqs if s is not None], default=0) + 1
                conn.execute(
                    sa.update(models_table)
                    .where(models_table.c.name == model.name)
                    .where(models_table.c.stage == "production")
                    .values(stage="archived")
                )
                conn.execute(
                    sa.update(models_table)
                    .where(models_table.c.model_id == model_id)
                    .values(stage="production", production_seq=next_seq)
                )
            elif stage != "production":
                conn.execute(
                    sa.update(models_table)
                    .where(models_table.c.model_id == model_id)
                    .values(stage=stage)
                )
            return self._get(conn, model_id)

    def rollback(self, name: str) -> ModelRecord:
        """Return the previous production version of ``name`` to production."""
        with self._writing() as conn:
            rows = [_row_fields(r) for r in self._lock_name(conn, name)]
            if not rows:
                raise ModelMissing(f"no model named {name!r}")
            current = [r for r in rows if r["stage"] == "production"]
            if not current:
                raise StageConflict(f"model {name!r} has no version in production")
            current_seq = current[0]["production_seq"] or 0
            previous = [
                r
                for r in rows
                if r["stage"] == "archived"
                and r["status"] == "active"
                and r["production_seq"] is not None
                and r["production_seq"] < current_seq
            ]
            if not previous:
                raise StageConflict(f"model {name!r} has no previous production version")
            target = max(previous, key=lambda r: r["production_seq"])
            conn.execute(
                sa.update(models_table)
                .where(models_table.c.model_id == current[0]["model_id"])
                .values(stage="archived", production_seq=None)
            )
            conn.execute(
                sa.update(models_table)
                .where(models_table.c.model_id == target["model_id"])
                .values(stage="production")
            )
            return self._get(conn, target["model_id"])

    def retire(self, model_id: int) -> ModelRecord:
        with self._writing() as conn:
            self._get(conn, model_id, for_update=True)
            conn.execute(
                sa.update(models_table)
                .where(models_table.c.model_id == model_id)
                .values(status="retired")
            )
            return self._get(conn, model_id)

    def delete(self, model_id: int) -> None:
        with self._writing() as conn:
            query = sa.delete(models_table).where(models_table.c.model_id == model_id)
            result = conn.execute(query)
            if result.rowcount == 0:
                raise ModelMissing(f"no model with id {model_id}")


def _row_fields(row: sa.Row[Any]) -> dict[str, Any]:
    return dict(row._mapping)
