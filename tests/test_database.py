"""Schema only through migrations, on every backend; SQLite tuned for concurrent use."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from controller import create_app
from controller.extensions import db


def test_migrations_produce_exactly_the_models_schema(app):
    import controller.models  # noqa: F401

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_migrations_run_on_an_empty_database_and_down_again(app, backend):
    from flask_migrate import downgrade, upgrade

    directory = app.extensions["migrate"].directory
    downgrade(directory=directory, revision="base")
    db.session.remove()
    tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    upgrade(directory=directory)
    assert {"offices", "devices", "users", "api_tokens", "audit_log"} <= set(
        inspect(db.engine).get_table_names()
    )


def test_nothing_creates_tables_at_start_up(tmp_path, monkeypatch):
    monkeypatch.setenv("TELECENTRE_INSTANCE_PATH", str(tmp_path))
    app = create_app({"TESTING": True})
    with app.app_context():
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        assert inspect(db.engine).get_table_names() == []
        db.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_pragmas(app, backend):
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000


def test_foreign_keys_are_enforced(app):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        db.session.execute(
            text(
                "INSERT INTO devices (office_id, kind, name, hostname, serial_number, location,"
                " management, state, created_at, updated_at) VALUES (4242, 'pc', 'x', '', '', '',"
                " 'none', 'unknown', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        db.session.commit()
    db.session.rollback()
