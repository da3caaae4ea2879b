"""The `telecentre` command: database, accounts, tokens, demo data and the servers."""

import os
import secrets
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import upgrade
from pydantic import ValidationError
from sqlalchemy import inspect

from controller import create_app
from controller.audit.service import Actor
from controller.auth.roles import Role
from controller.errors import DomainError, Invalid
from controller.extensions import db

CLI = Actor(None, "cli")


def _fail(message: str, fields: dict | None = None) -> None:
    lines = [f"Error: {message}"] + [f"  {k}: {v}" for k, v in (fields or {}).items()]
    click.echo("\n".join(lines), err=True)
    sys.exit(2)


def _office_id(name_or_id: str) -> int:
    from sqlalchemy import func, select

    from controller.offices.models import Office
    from controller.validation import parse_id

    stmt = select(Office.id).where(func.lower(Office.name) == name_or_id.strip().lower())
    if (office_id := parse_id(name_or_id)) is not None:
        stmt = select(Office.id).where(Office.id == office_id)
    office_id = db.session.scalar(stmt)
    if office_id is None:
        _fail(f"no office {name_or_id!r} (give its exact name or id)")
    return office_id


@click.group(cls=FlaskGroup, create_app=create_app, add_default_commands=False)
def main() -> None:
    """Telecentre Controller: central management of the county's public access network."""


def register(app) -> None:
    """Add the controller's commands to the app's CLI (used by `telecentre` and tests)."""
    from controller.metrics.cli import metrics
    from controller.portal.cli import voucher
    from controller.reports.cli import report
    from controller.ssh.cli import job, ssh

    commands = (user, token, enrollment_token, fleet, voucher, job, ssh, metrics, report,
                demo_data, run, demo)  # fmt: skip
    for command in commands:
        app.cli.add_command(command)


@click.group()
def user() -> None:
    """Staff accounts."""


@user.command("create")
@click.option("--email", required=True, help="E-mail address used to sign in.")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--office", "offices", multiple=True, help="Office name or id (repeatable).")
@click.option("--name", default="", help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def user_create(email, role, offices, name, password_stdin) -> None:
    """Create a staff account; without --password-stdin a random password is printed."""
    from controller.users.schemas import UserCreate
    from controller.users.service import create_user

    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    try:
        data = UserCreate(email=email, role=role, name=name, password=password,
                          office_ids=[_office_id(o) for o in offices])  # fmt: skip
        account = create_user(CLI, data)
    except ValidationError as exc:
        _fail("the account was not created", Invalid.from_pydantic(exc, "").fields)
    except DomainError as exc:
        _fail(exc.message, exc.fields)
    click.echo(f"Created {account.email} ({account.role}).")
    if not password_stdin:
        click.echo(f"Password: {password}")


@click.group()
def token() -> None:
    """Personal API tokens."""


@token.command("create")
@click.option("--email", required=True, help="Owner of the token.")
@click.option("--name", required=True, help="What the token is for.")
@with_appcontext
def token_create(email, name) -> None:
    """Create an API token and print it (the only time it is shown)."""
    from controller.auth.tokens import create_token
    from controller.users.service import find_by_email

    owner = find_by_email(email)
    if owner is None:
        _fail(f"no account {email!r}")
    try:
        _token, secret = create_token(CLI, owner, name)
    except DomainError as exc:
        _fail(exc.message, exc.fields)
    click.echo(secret)


@click.group("enrollment-token")
def enrollment_token() -> None:
    """Office enrolment tokens for device agents."""


def _hours(value: str) -> int:
    units = {"m": 1 / 60, "h": 1, "d": 24}
    number, unit = (value[:-1], value[-1]) if value[-1:] in units else (value, "h")
    if not number.isdigit():
        raise click.BadParameter("give hours, or a number with m, h or d (e.g. 90m, 24h, 7d)")
    return max(1, round(int(number) * units[unit]))


@enrollment_token.command("create")
@click.option("--office", required=True, help="Office name or id.")
@click.option("--ttl", default="24h", show_default=True, help="Validity: 90m, 24h, 7d …")
@click.option("--uses", default=1, show_default=True, help="How many agents may enrol with it.")
@with_appcontext
def enrollment_token_create(office, ttl, uses) -> None:
    """Create an enrolment token and print it (the only time it is shown)."""
    from controller.fleet.enrollment import create_token
    from controller.fleet.schemas import TokenCreate
    from controller.offices.models import Office

    try:
        data = TokenCreate(ttl_hours=_hours(ttl), uses=uses)
    except ValidationError as exc:
        _fail("the token was not created", Invalid.from_pydantic(exc, "").fields)
    _token, secret = create_token(CLI, db.session.get(Office, _office_id(office)), data)
    click.echo(secret)


@click.group()
def fleet() -> None:
    """Device agents."""


@fleet.command("sweep")
@with_appcontext
def fleet_sweep() -> None:
    """Mark agent devices offline after 3 missed heartbeats (the scheduler runs this)."""
    from controller.fleet.states import sweep

    _require_schema()
    changed = sweep(current_app.config["AGENT_INTERVAL"])
    click.echo(f"{changed} devices marked offline.")


@click.command("demo-data")
@with_appcontext
def demo_data() -> None:
    """Load the demo offices of Powiat Łęczyński with their devices (idempotent)."""
    from controller.demo import load_demo_data

    _require_schema()
    offices, devices = load_demo_data(CLI)
    click.echo(f"Demo data: {offices} offices and {devices} devices added.")


def _require_schema() -> None:
    if not inspect(db.engine).has_table("alembic_version"):
        _fail("the database has no schema yet; run `telecentre db upgrade` first")


def _gunicorn(bind: str, workers: int, access_log: bool = True) -> tuple[list[str], dict]:
    from controller.metrics.serving import gunicorn_options

    env = dict(os.environ, TELECENTRE_INSTANCE_PATH=current_app.instance_path)
    metrics_args, env = gunicorn_options(env, current_app.instance_path)
    args = [sys.executable, "-m", "gunicorn", "controller.wsgi:app", "--bind", bind,
            "--workers", str(workers), *metrics_args]  # fmt: skip
    return args + (["--access-logfile", "-"] if access_log else []), env


def _serve(bind: str, workers: int) -> None:
    """Replace this process with gunicorn serving the controller."""
    args, env = _gunicorn(bind, workers)
    os.execve(sys.executable, args, env)  # noqa: S606 - fixed argv, no shell


def _serve_with_fleet(bind: str, workers: int, devices: list) -> None:
    """Serve with gunicorn as a child and run simulated agents here until interrupted."""
    import signal
    import subprocess
    import threading
    import time
    import urllib.request

    from agents.sim.main import enroll_all, run_fleet

    args, env = _gunicorn(bind, workers, access_log=False)  # heartbeats would drown the console
    server = subprocess.Popen(args, env=env)  # noqa: S603 - fixed argv, no shell
    url = f"http://{bind}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1).close()  # noqa: S310
                break
            except OSError:
                time.sleep(0.1)
        enrolled = enroll_all(url, devices, Path(current_app.instance_path) / "sim")
        click.echo(f"  {len(enrolled)} simulated agents heartbeat every "
                   f"{current_app.config['AGENT_INTERVAL']} s (stop with Ctrl-C)\n")  # fmt: skip
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())  # stop the child server too
        run_fleet(enrolled, current_app.config["AGENT_INTERVAL"], stop)
    except KeyboardInterrupt:
        pass
    finally:
        server.terminate()
        server.wait(timeout=30)


@click.command("run")
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="Address to listen on.")
@click.option("--workers", default=2, show_default=True, help="Gunicorn worker processes.")
@with_appcontext
def run(bind, workers) -> None:
    """Serve the controller with gunicorn (production server)."""
    _require_schema()
    _serve(bind, workers)


@click.command("demo")
@click.option("--workers", default=2, show_default=True)
@click.option("--fleet/--no-fleet", default=True, show_default=True,
              help="Run simulated agents for the demo PCs and infomats.")  # fmt: skip
@with_appcontext
def demo(workers, fleet) -> None:
    """Set up the embedded database with demo data and a demo admin, then serve it."""
    from controller.auth.passwords import hash_password
    from controller.demo import load_demo_data
    from controller.users.schemas import UserCreate
    from controller.users.service import create_user, find_by_email

    upgrade(directory=current_app.extensions["migrate"].directory)
    load_demo_data(CLI)
    email, password = "admin@demo.example.pl", secrets.token_urlsafe(12)
    account = find_by_email(email)
    if account is None:
        create_user(CLI, UserCreate(email=email, role=Role.ADMIN, name="Demo admin",
                                    password=password))  # fmt: skip
    else:
        account.password_hash = hash_password(password)
        db.session.commit()
    port = os.environ.get("PORT", "8000")
    click.echo(
        f"\n  Telecentre Controller demo: http://127.0.0.1:{port}/\n"
        f"  Sign in as {email} with the password {password}\n"
        f"  (a new password is printed each time the demo starts)\n"
    )
    if fleet:
        from controller.demo import fleet_devices

        _serve_with_fleet(f"127.0.0.1:{port}", workers, fleet_devices(CLI))
    else:
        _serve(f"127.0.0.1:{port}", workers)
