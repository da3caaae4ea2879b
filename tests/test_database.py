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


def test_nonces_survive_the_move_to_one_b_tree(app, backend):
    """Every signed request writes a nonce under the write lock: on SQLite its table is one
    b-tree (WITHOUT ROWID, no other index), and nonces inside the window survive the move."""
    from flask_migrate import downgrade, upgrade

    directory = app.extensions["migrate"].directory
    downgrade(directory=directory, revision="0013")
    db.session.remove()
    from controller.devices.models import Device, Management
    from controller.offices.models import Office

    office = Office(name="Urząd", type="other")
    db.session.add(office)
    db.session.flush()
    db.session.add(Device(office_id=office.id, kind="pc", name="PC", management=Management.AGENT))
    db.session.commit()
    db.session.execute(text("INSERT INTO agent_nonces (device_id, nonce, seen_at) SELECT id,"
                            " 'n0123456789abcdef', CURRENT_TIMESTAMP FROM devices"))  # fmt: skip
    db.session.commit()
    db.session.remove()
    upgrade(directory=directory)
    with db.engine.connect() as conn:
        kept = conn.exec_driver_sql("SELECT nonce FROM agent_nonces").scalars().all()
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("agent_nonces")}
        if backend == "sqlite":
            sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'agent_nonces'"
            ).scalar()
            assert sql.rstrip().endswith("WITHOUT ROWID")
    assert kept == ["n0123456789abcdef"]
    assert "ix_agent_nonces_seen_at" not in indexes


def test_the_rollup_migration_keeps_the_runs_of_schedules(app, backend):
    """0013 changes the schedule kinds' CHECK; on SQLite that rebuilds `schedules`, whose drop
    would cascade into `schedule_runs`: runs survive the way up and the way down."""
    from flask_migrate import downgrade, upgrade

    from controller.scheduler.models import Schedule, ScheduleRun
    from controller.types import utcnow

    directory = app.extensions["migrate"].directory
    db.session.remove()
    downgrade(directory=directory, revision="0012")
    db.session.remove()
    schedule = Schedule(name="Purge", kind="purge", interval_s=3600, created_by="test")
    db.session.add(schedule)
    db.session.flush()
    db.session.add(ScheduleRun(schedule_id=schedule.id, scheduled_for=utcnow(), runner="test",
                               outcome="ok", message="kept"))  # fmt: skip
    db.session.commit()
    db.session.remove()

    def state() -> tuple[list, list]:
        with db.engine.connect() as conn:
            runs = conn.exec_driver_sql("SELECT message FROM schedule_runs").scalars().all()
            kinds = conn.exec_driver_sql("SELECT kind FROM schedules ORDER BY kind").scalars()
            return runs, kinds.all()

    runs, kinds = state()
    assert runs == ["kept"] and "report_rollup" not in kinds
    upgrade(directory=directory, revision="0013")
    assert state() == (["kept"], sorted([*kinds, "report_rollup"]))  # the nightly roll-up
    downgrade(directory=directory, revision="0012")
    assert state() == (["kept"], kinds)
    upgrade(directory=directory)


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


def test_a_waiting_writer_gets_the_lock_soon_after_it_is_free(tmp_path, monkeypatch):
    import sqlite3
    import threading
    import time

    from controller import database

    path = tmp_path / "gate.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode=WAL")
    waiter = sqlite3.connect(path, isolation_level=None, timeout=15)
    holder.execute("BEGIN IMMEDIATE")
    released = []
    timer = threading.Timer(
        0.05, lambda: (holder.execute("COMMIT"), released.append(time.monotonic()))
    )
    timer.start()
    database.begin_immediate(waiter)
    got = time.monotonic()
    timer.join()
    waiter.execute("COMMIT")
    # SQLite's own busy handler would have slept in steps of up to 100 ms.
    assert got - released[0] < 0.02
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 15000

    holder.execute("BEGIN IMMEDIATE")  # and now nobody lets go
    monkeypatch.setattr(database, "BUSY_TIMEOUT", 0.1)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        database.begin_immediate(waiter)
    assert 0.1 <= time.monotonic() - started < 1
    holder.execute("ROLLBACK")
    holder.close()
    waiter.close()


@pytest.mark.parametrize(
    "stored",
    ["2026-11-21 14:36:42.349763", "2026-11-21 14:36:42", "2026-11-21 14:36:42.3", "2026-11-21",
     "2026-03-29 01:59:59.999999", None],
)  # fmt: skip
def test_sqlite_timestamps_read_fast_read_the_same(stored):
    """UTCDateTime's own SQLite reader gives what SQLAlchemy's parser and the decorator gave."""
    from datetime import UTC

    from sqlalchemy import DateTime
    from sqlalchemy.dialects import sqlite

    from controller.types import UTCDateTime

    dialect = sqlite.dialect()
    fast = UTCDateTime()._cached_result_processor(dialect, None)
    parse = DateTime(timezone=True)._cached_result_processor(dialect, None)
    slow = parse(stored) if stored is not None else None
    expected = slow.replace(tzinfo=UTC) if slow is not None else None
    assert fast(stored) == expected
    assert stored is None or fast(stored).tzinfo is UTC
