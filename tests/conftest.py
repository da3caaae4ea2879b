"""Fixtures: an app on a migrated database (SQLite, and PostgreSQL when configured), factories."""

import os
import re
import shutil
import threading
from contextlib import contextmanager
from itertools import count

import pytest
from flask import g
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from controller import create_app
from controller.auth.models import ApiToken, User
from controller.auth.passwords import hash_password
from controller.auth.roles import Role
from controller.auth.tokens import PREFIX, _digest
from controller.devices.models import Device, DeviceKind, Management
from controller.devices_app import PREFIXES as DEVICE_PREFIXES
from controller.extensions import db
from controller.offices.models import Office, OfficeType
from tests.requirements import need

PG_URL = os.environ.get("TELECENTRE_TEST_DATABASE_URL")
PASSWORD = "correct horse battery"
BACKENDS = ["sqlite", "postgresql"]
TEST_CONFIG = {
    "TESTING": True,
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_KIB": 8192,
    "RATELIMIT_STORAGE_URI": "memory://",
}


class _SharedBytecode(BytecodeCache):
    """Compiled templates shared by every app of the test process (each test builds a new app)."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


_BYTECODE = _SharedBytecode()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def migrate(url: str) -> None:
    """Bring a database to the newest schema through the Alembic migrations."""
    from flask_migrate import upgrade

    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "m" * 64})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        db.engine.dispose()


class Client(FlaskClient):
    """The test client, aware that the devices app writes on a connection of its own.

    Staff requests share the test's app context and so its database session. Signed device
    requests do not (controller/devices_app.py): around them the test's transaction is
    committed, so the request sees what the test wrote and the test then reads what the
    request wrote, as between real requests.
    """

    def open(self, *args, **kwargs):
        target = args[0] if args else kwargs.get("path", "")
        devices = isinstance(target, str) and target.startswith(DEVICE_PREFIXES)
        if devices:
            db.session.commit()
        try:
            return super().open(*args, **kwargs)
        finally:
            if devices:
                db.session.commit()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    """A migrated SQLite file, copied for every test."""
    folder = tmp_path_factory.mktemp("template")
    path = folder / "telecentre.sqlite3"
    migrate(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def pg_database() -> str:
    """A migrated PostgreSQL database of this xdist worker's own."""
    need(bool(PG_URL), "TELECENTRE_TEST_DATABASE_URL is not set (PostgreSQL tests)")
    base = make_url(PG_URL)
    name = f"{base.database}_{_worker()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = base.set(database=name).render_as_string(hide_password=False)
    migrate(url)
    return url


def _truncate_all(engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """The database backend of this test run."""
    return request.param


@pytest.fixture
def app(request, backend, tmp_path):
    """A controller app on a freshly migrated, empty database."""
    config = dict(TEST_CONFIG)
    config.update(getattr(request, "param", None) or {})
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        shutil.copy(template, tmp_path / "telecentre.sqlite3")
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'telecentre.sqlite3'}"
    else:
        config["SQLALCHEMY_DATABASE_URI"] = request.getfixturevalue("pg_database")
    os.environ["TELECENTRE_INSTANCE_PATH"] = str(tmp_path)
    try:
        application = create_app(config)
        application.test_client_class = Client
    finally:
        del os.environ["TELECENTRE_INSTANCE_PATH"]
    application.jinja_env.bytecode_cache = _BYTECODE
    # Requests reuse the test's app context; give each one fresh globals as production does.
    application.before_request(lambda: g.__dict__.clear())
    with application.app_context():
        yield application
        db.session.remove()
        if backend == "postgresql":
            _truncate_all(db.engine)
        db.engine.dispose()


@pytest.fixture
def live_server(app):
    """The test's app served over HTTP on a free local port; yields its base URL.

    Requests are handled in server threads, each with its own app context and
    database session. The factories commit; a test that changes rows itself must
    commit before the browser reads them, and must end its own transaction
    (db.session.rollback()) before it reads what the browser wrote.
    """
    with serving(app) as server:
        yield f"http://127.0.0.1:{server.server_port}"


@contextmanager
def serving(app, host: str = "127.0.0.1", make=make_server):
    """Serve app from a thread (make builds the server: in a namespace, say); yield it."""
    db.session.commit()
    server = make(host, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner bound to the app."""
    return app.test_cli_runner()


_seq = count(1)


def make_office(**kw) -> Office:
    """An office with unique defaults."""
    n = next(_seq)
    kw.setdefault("name", f"Urząd Gminy Testowo {n}")
    kw.setdefault("type", OfficeType.URZAD_GMINY)
    office = Office(**kw)
    db.session.add(office)
    db.session.commit()
    return office


def make_device(office: Office, **kw) -> Device:
    """A device in an office with unique defaults."""
    n = next(_seq)
    tags = kw.pop("tags", [])
    kw.setdefault("name", f"PC-{n:03d}")
    kw.setdefault("kind", DeviceKind.PC)
    kw.setdefault("management", Management.AGENT)
    kw.setdefault("mac", f"02:00:00:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}")
    device = Device(office_id=office.id, **kw)
    device.tags = tags
    db.session.add(device)
    db.session.commit()
    return device


def make_user(role: Role | str = Role.ADMIN, offices=(), **kw) -> User:
    """A staff account with the test password."""
    n = next(_seq)
    kw.setdefault("email", f"user{n}@example.org")
    kw.setdefault("password_hash", hash_password(PASSWORD))
    user = User(role=Role(role), **kw)
    user.offices = list(offices)
    db.session.add(user)
    db.session.commit()
    return user


def make_token(user: User, name: str = "test") -> str:
    """An API token for user; returns the secret."""
    secret = f"{PREFIX}test{next(_seq)}-{user.id}-secret-value-xxxxxxxx"
    db.session.add(
        ApiToken(user_id=user.id, name=name, token_hash=_digest(secret), prefix=secret[:10])
    )
    db.session.commit()
    return secret


def bearer(secret: str) -> dict:
    """Authorization header for a token."""
    return {"Authorization": f"Bearer {secret}"}


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, page: str = "/login") -> str:
    """A CSRF token valid for the client's session, read from a page's form."""
    html = client.get(page).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {page}"
    return match.group(1)


def login(client, user: User, password: str = PASSWORD):
    """Sign in through the real login form."""
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": user.email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def post_form(client, url: str, data: dict | None = None, page: str = "/account"):
    """POST a form with a valid CSRF token taken from a page of the signed-in client."""
    payload = dict(data or {})
    payload["csrf_token"] = csrf_token(client, page)
    return client.post(url, data=payload)
