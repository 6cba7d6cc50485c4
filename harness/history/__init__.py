"""The history store: every run recorded (SQLAlchemy 2 + Alembic migrations shipped here).

- :mod:`store` — where it is (``HARNESS_HISTORY_URL`` or SQLite in the state dir), timeouts,
  migrations; :mod:`models` — the tables;
- :mod:`record`, :mod:`figures` — a run's row, steps, criteria, figures, series;
- :mod:`recorder` — what a run does (start row, verdict at the end); :mod:`recovery` —
  runs whose harness was killed;
- :mod:`queries`, :mod:`compare`, :mod:`display`, :mod:`commands` — reading it back.
"""

from harness.history.store import HistoryError, open_store, store_location

__all__ = ["HistoryError", "open_store", "store_location"]
