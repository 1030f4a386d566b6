"""Alembic, one migration history per service, each in ``tijori/<service>/migrations``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(service: str, database_url: str) -> Config:
    """The Alembic configuration of ``service`` against ``database_url``."""
    config = Config()
    config.set_main_option("script_location", f"tijori.{service}:migrations")
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["database_url"] = database_url
    return config


async def create_database_if_missing(database_url: str) -> None:
    """On MySQL/MariaDB, create the service's database (utf8mb4) when it does not exist."""
    url = make_url(database_url)
    if url.get_backend_name() != "mysql" or not url.database:
        return
    server = create_async_engine(
        URL.create(url.drivername, url.username, url.password, url.host, url.port)
    )
    try:
        async with server.begin() as connection:
            await connection.execute(
                text(
                    f"CREATE DATABASE IF NOT EXISTS `{url.database}` "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
            )
    finally:
        await server.dispose()


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    """Bring the database of ``service`` up to ``revision``."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(create_database_if_missing(database_url))
    command.upgrade(alembic_config(service, database_url), revision)


def run_env(metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py``: migrate online over asyncio."""
    url = context.config.attributes.get("database_url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    assert url, "no database URL for the migration"

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(migrate)
                await connection.commit()
        finally:
            await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(run())
