"""The database fixtures (db_url over SQLite and PostgreSQL, migrated_url, engine, vault) live in
tests/conftest.py so the integration tests share them."""
