"""A throw-away PostgreSQL database with PostGIS, on the machine's own server (never mocked).

``temporary_database()`` creates ``frontier_atlas_test_<random>``, creates the PostGIS
extension in it, yields its connection string and drops it afterwards. Without a
reachable server or without PostGIS the tests skip, except in CI (``CI=true``), where
``.ci/run`` installs both and their absence is a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
#: A superuser connection to the maintenance database of the server the tests use.
ADMIN_URL = os.environ.get("FRONTIER_ATLAS_TEST_ADMIN_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")  # fmt: skip


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it in CI where PostgreSQL and PostGIS must be present."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: .ci/run must install and start PostgreSQL with "
                    "postgresql-15-postgis-3)", pytrace=False)  # fmt: skip
    pytest.skip(reason)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@contextmanager
def temporary_database(prefix: str = "frontier_atlas_test") -> Iterator[str]:
    """Yield the connection string of a new database with PostGIS; drop it afterwards."""
    try:
        import psycopg
        from psycopg import sql
        from psycopg.conninfo import make_conninfo
    except ImportError:
        unavailable("psycopg is not installed (pip install 'psycopg[binary]' psycopg-pool)")
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL at {ADMIN_URL} is not reachable: {_first_line(exc)}")
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        admin.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0")
                      .format(sql.Identifier(name)))  # fmt: skip
        url = make_conninfo(ADMIN_URL, dbname=name)
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except psycopg.Error as exc:
            unavailable(f"PostGIS is not available on {ADMIN_URL}: {_first_line(exc)} "
                        "(Debian: apt-get install postgresql-15-postgis-3)")  # fmt: skip
        yield url
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                      .format(sql.Identifier(name)))  # fmt: skip
        admin.close()
