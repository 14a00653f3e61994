"""The PostgreSQL test server (tests/postgres_server.py): real, isolated per test, restartable."""

from __future__ import annotations

from urllib.parse import urlsplit

import postgres_server


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _tables(postgres, url: str) -> list[str]:
    import psycopg

    with psycopg.connect(host=str(postgres.folder), port=postgres_server.PORT, user="postgres", dbname=database_name(url)) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS marker (n integer)")
        return [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]


def test_each_test_gets_a_database_of_its_own(postgres, postgres_database):
    assert _tables(postgres, postgres_database) == ["marker"]
    assert postgres.has_database(database_name(postgres_database))


def test_a_second_test_does_not_see_the_firsts_tables(postgres, postgres_database):
    import psycopg

    with psycopg.connect(host=str(postgres.folder), port=postgres_server.PORT, user="postgres",
                         dbname=database_name(postgres_database)) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0


def test_the_server_listens_only_on_its_private_socket(postgres):
    assert (postgres.folder / f".s.PGSQL.{postgres_server.PORT}").exists()
    with postgres.admin() as conn:
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == ""


def test_the_server_can_be_stopped_and_started_again(postgres, postgres_database):
    postgres.stop()
    assert not postgres.is_running()
    postgres.start()
    assert postgres.is_running()
    assert _tables(postgres, postgres_database) == ["marker"]
