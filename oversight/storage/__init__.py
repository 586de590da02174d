"""Storage of the oversight role: SQL (SQLite and PostgreSQL) and in memory; imported only
by ``app``."""
