"""Alembic's environment for the journal: migrations run on the connection that
mea-culpa hands over (journal/migrate.py), inside the transaction it holds, so that a
migration and the checks around it are one transaction (and two first runs cannot both
migrate). `render_as_batch` lets SQLite change tables it cannot ALTER."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
