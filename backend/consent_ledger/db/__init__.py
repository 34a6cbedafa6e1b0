"""The relational database: one declarative `Base`, engines for SQLite and PostgreSQL, and Alembic migrations.

Nothing connects at import time. `make_engine(url)` and `make_session_factory(engine)` build what a process needs;
`migrate.upgrade(url)` brings a database to the latest schema (run it at start-up or from the CLI).

Migrations live in `db/migrations/versions/` as hand-written revisions on ONE linear chain:
`0001_vault` (customers, customer_keys, customer_fields) -> `0002_<slug>` -> `0003_<slug>` ... Each new revision
uses the id `NNNN_<slug>` (also its file name) and sets `down_revision` to the current head, so
`alembic heads` always shows exactly one head. Use `op.batch_alter_table` for any ALTER (SQLite cannot ALTER in
place). To use the alembic CLI: `alembic -c backend/consent_ledger/db/alembic.ini -x url=<database url> <command>`.
"""

from consent_ledger.db.base import NAMING_CONVENTION, Base
from consent_ledger.db.engine import make_engine, make_session_factory, normalize_url

__all__ = ["NAMING_CONVENTION", "Base", "make_engine", "make_session_factory", "normalize_url"]
