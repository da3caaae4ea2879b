"""The `telecentre` command: non-interactive, clear errors, nothing half-done."""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from controller.auth.models import ApiToken, User
from controller.devices.models import Device
from controller.extensions import db
from controller.offices.models import Office
from tests.conftest import bearer, make_office, make_user

TELECENTRE = str(Path(sys.executable).with_name("telecentre"))


def test_user_create_with_password_on_stdin(runner, client):
    office = make_office(name="Urząd Gminy Cyców")
    result = runner.invoke(
        args=["user", "create", "--email", "it@cycow.example.pl", "--role", "it_admin",
              "--office", "urząd gminy cyców", "--password-stdin"],
        input="a very long password\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    user = db.session.scalars(select(User)).one()
    assert user.role == "it_admin" and [o.id for o in user.offices] == [office.id]
    assert "a very long password" not in result.output


def test_user_create_refuses_bad_input_and_writes_nothing(runner):
    make_office(name="Urząd Gminy Spiczyn")
    cases = [
        (["--email", "bad", "--role", "viewer"], "email"),
        (["--email", "a@example.org", "--role", "viewer", "--office", "Nowhere"], "no office"),
        (["--email", "a@example.org", "--role", "root"], "role"),
    ]
    for extra, expected in cases:
        result = runner.invoke(args=["user", "create", "--password-stdin", *extra], input="x" * 12)
        assert result.exit_code == 2, result.output
        assert expected in result.output.lower()
    short = runner.invoke(
        args=["user", "create", "--email", "a@example.org", "--role", "viewer", "--password-stdin"],
        input="short\n",
    )
    assert short.exit_code == 2 and "password" in short.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_token_create_prints_a_working_token_once(runner, client):
    user = make_user("viewer")
    result = runner.invoke(args=["token", "create", "--email", user.email, "--name", "ansible"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert client.get("/api/v1/me", headers=bearer(secret)).json["email"] == user.email
    stored = db.session.scalars(select(ApiToken)).one()
    assert stored.token_hash != secret and secret not in stored.token_hash
    missing = runner.invoke(args=["token", "create", "--email", "nobody@x.org", "--name", "n"])
    assert missing.exit_code == 2 and "no account" in missing.output


def test_demo_data_is_idempotent(runner):
    first = runner.invoke(args=["demo-data"])
    assert first.exit_code == 0, first.output
    assert runner.invoke(args=["demo-data"]).exit_code == 0
    names = db.session.scalars(select(Office.name).order_by(Office.id)).all()
    assert names == [
        "Starostwo Powiatowe w Łęcznej",
        "Urząd Miejski w Łęcznej",
        "Urząd Gminy Cyców",
        "Urząd Gminy Milejów",
        "Urząd Gminy Ludwin",
        "Urząd Gminy Puchaczów",
        "Urząd Gminy Spiczyn",
    ]
    kinds = db.session.execute(select(Device.kind, func.count()).group_by(Device.kind)).all()
    assert dict(kinds) == {"pc": 28, "infomat": 7, "hotspot": 7, "gateway": 7}


def test_commands_run_as_a_real_process(tmp_path):
    """The installed console script, from a bare instance folder to a served API."""
    env = dict(os.environ, TELECENTRE_INSTANCE_PATH=str(tmp_path))

    def run(*args, stdin=None):
        return subprocess.run(
            [TELECENTRE, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
        )

    refused = run("demo-data")
    assert refused.returncode == 2 and "db upgrade" in refused.stderr
    assert run("db", "upgrade").returncode == 0
    assert run("demo-data").returncode == 0
    created = run("user", "create", "--email", "a@example.org", "--role", "admin")
    assert created.returncode == 0 and "Password: " in created.stdout
    token = run("token", "create", "--email", "a@example.org", "--name", "t").stdout.strip()
    assert token.startswith("tc_")
