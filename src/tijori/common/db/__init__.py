"""The database: column types, engines and pools, retries, and the unit of work.

- :mod:`.types`: column types and constraint names every service's tables share;
- :mod:`.engine`: the engine of a service's database and its connection pool;
- :mod:`.retry`: running a whole transaction again on a deadlock or lost link;
- :mod:`.unit_of_work`: one database transaction and everything that belongs to it;
- :mod:`.batch`: the statements a unit of work writes a batch's changes with.
"""

from tijori.common.db.engine import (
    PING_AFTER_IDLE_SECONDS,
    READ_POOL_SIZE,
    create_engine,
    create_read_engine,
    ping,
)
from tijori.common.db.retry import is_transient, retry_transient
from tijori.common.db.types import (
    NAMING_CONVENTION,
    BigId,
    ExactText,
    UtcDateTime,
    row_of,
    table_of,
)
from tijori.common.db.unit_of_work import (
    Keyed,
    StagedRow,
    UnitOfWork,
    UnitOfWorkFactory,
    UnstagedChangeError,
    create_sessionmaker,
    keyed,
)

__all__ = [
    "NAMING_CONVENTION",
    "PING_AFTER_IDLE_SECONDS",
    "READ_POOL_SIZE",
    "BigId",
    "ExactText",
    "Keyed",
    "StagedRow",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UnstagedChangeError",
    "UtcDateTime",
    "create_engine",
    "create_read_engine",
    "create_sessionmaker",
    "is_transient",
    "keyed",
    "ping",
    "retry_transient",
    "row_of",
    "table_of",
]
