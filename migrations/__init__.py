"""Alembic migration scripts for the Opsroom schema; a package so the code can find them."""
