"""The real `telecentre-agent` process against a controller served on loopback."""

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from controller.audit.service import Actor
from controller.devices.models import Device
from controller.extensions import db
from controller.fleet.enrollment import create_token
from controller.fleet.schemas import CommandCreate, TokenCreate
from tests.conftest import make_office

AGENT = str(Path(sys.executable).with_name("telecentre-agent"))


@pytest.fixture
def backend():
    """Agent processes talk to a threaded live server; SQLite is enough to prove the protocol."""
    return "sqlite"


def _agent(
    state: Path, *args: str, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [AGENT, *args, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "TELECENTRE_AGENT_CONFIG": "/nonexistent", **(env or {})},
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


class _Portal(BaseHTTPRequestHandler):
    """A captive portal: answers everything with 200 and a login page."""

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = b"<html><body>Zaloguj sie do hotspotu</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def portal():
    server = HTTPServer(("127.0.0.1", 0), _Portal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _point_at(state: Path, url: str) -> None:
    path = state / "identity.json"
    data = json.loads(path.read_text())
    data["controller_url"] = url
    path.write_text(json.dumps(data))


def test_agent_enrols_heartbeats_and_delivers_its_spool_after_an_outage(
    app, live_server, tmp_path, portal
):
    office = make_office(name="Urząd Gminy Spiczyn")
    _row, token = create_token(Actor(None, "cli"), office, TokenCreate())
    state = tmp_path / "agent"
    enrolled = _agent(state, "enroll", "--controller", live_server, "--token", token)
    assert "Enrolled as device" in enrolled.stdout
    identity = json.loads((state / "identity.json").read_text())
    assert oct((state / "identity.json").stat().st_mode & 0o777) == "0o600"
    assert identity["controller_id"] == app.config["CONTROLLER_ID"]

    _agent(state, "run", "--once")
    db.session.rollback()
    device = db.session.get(Device, identity["device_id"])
    assert device.state == "online" and device.office_id == office.id
    assert device.inventory and device.health["agent_version"]
    assert device.agent_seq == 1

    # The office link is down, then a captive portal answers instead of the controller.
    _point_at(state, "http://127.0.0.1:9")
    for _ in range(2):
        failed = _agent(state, "run", "--once")
        assert "not reachable" in failed.stderr
    _point_at(state, portal)
    fooled = _agent(state, "run", "--once")
    assert "without our controller's id" in fooled.stderr
    spooled = sorted(p.name for p in (state / "spool").glob("*.json"))
    assert len(spooled) == 3

    _point_at(state, live_server)
    _agent(state, "run", "--once")
    assert list((state / "spool").glob("*.json")) == []
    db.session.rollback()
    assert db.session.get(Device, identity["device_id"]).agent_seq == 5


def test_wrong_token_is_a_clear_error(live_server, tmp_path):
    result = _agent(
        tmp_path, "enroll", "--controller", live_server, "--token", "tce_" + "x" * 30, check=False
    )
    assert result.returncode == 2
    assert "unknown, expired or used up" in result.stderr
    assert not (tmp_path / "identity.json").exists()
    assert db.session.scalars(select(Device)).all() == []


def test_run_without_enrolment_says_what_to_do(tmp_path):
    result = _agent(tmp_path, "run", "--once", check=False)
    assert result.returncode != 0 and "telecentre-agent enroll" in result.stderr


def test_agent_runs_an_allowed_script_once_and_reports_the_result(app, live_server, tmp_path):
    from controller.fleet.commands import queue
    from controller.fleet.schemas import CommandCreate
    from tests.conftest import bearer, make_token, make_user

    office = make_office()
    _row, token = create_token(Actor(None, "cli"), office, TokenCreate())
    state = tmp_path / "agent"
    marker = tmp_path / "ran.txt"
    script = tmp_path / "hello.sh"
    script.write_text(f"#!/bin/sh\necho run >> {marker}\necho hello from the telecentre\n")
    script.chmod(0o755)
    config = tmp_path / "agent.conf"
    config.write_text(f"[scripts]\nhello = {script}\n[commands]\nlock = /bin/true\n")
    env = {"TELECENTRE_AGENT_CONFIG": str(config)}
    _agent(state, "enroll", "--controller", live_server, "--token", token)
    device_id = json.loads((state / "identity.json").read_text())["device_id"]
    device = db.session.get(Device, device_id)
    actor = Actor(make_user("it_admin"), "ui")
    for data in (CommandCreate(kind="run_script", script="hello"),
                 CommandCreate(kind="run_script", script="not-allowed"),
                 CommandCreate(kind="lock")):  # fmt: skip
        queue(actor, device, data)

    _agent(state, "run", "--once", env=env)
    _agent(state, "run", "--once", env=env)  # a second heartbeat: nothing runs again
    assert marker.read_text() == "run\n"
    listed = (
        app.test_client()
        .get(
            f"/api/v1/devices/{device_id}/commands", headers=bearer(make_token(make_user("viewer")))
        )
        .json["items"]
    )
    by_kind = {(c["kind"], c["args"].get("script")): c for c in listed}
    hello = by_kind[("run_script", "hello")]
    assert (hello["state"], hello["exit_code"]) == ("done", 0)
    assert "hello from the telecentre" in hello["output"] and hello["duration_s"] >= 0
    refused = by_kind[("run_script", "not-allowed")]
    assert refused["state"] == "failed" and "allow-list" in refused["output"]
    assert by_kind[("lock", None)]["state"] == "done"


# a 1×1 PNG
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGA" + (
    "WjR9awAAAABJRU5ErkJggg=="
)


def test_agent_takes_and_uploads_a_screenshot(app, live_server, tmp_path):
    import base64

    from controller.fleet.commands import queue
    from controller.fleet.schemas import CommandCreate
    from tests.conftest import login, make_user

    office = make_office()
    _row, token = create_token(Actor(None, "cli"), office, TokenCreate())
    state, png = tmp_path / "agent", tmp_path / "screen.png"
    png.write_bytes(base64.b64decode(PIXEL))
    config = tmp_path / "agent.conf"
    config.write_text(f"[commands]\nscreenshot = cat {png}\n")
    _agent(state, "enroll", "--controller", live_server, "--token", token)
    device_id = json.loads((state / "identity.json").read_text())["device_id"]
    queue(
        Actor(make_user("it_admin"), "ui"),
        db.session.get(Device, device_id),
        CommandCreate(kind="screenshot"),
    )
    _agent(state, "run", "--once", env={"TELECENTRE_AGENT_CONFIG": str(config)})
    client = app.test_client()
    login(client, make_user("viewer"))
    shot = client.get(f"/devices/{device_id}/screenshot.png")
    assert shot.status_code == 200 and shot.data == png.read_bytes()
    assert shot.headers["Content-Type"] == "image/png"
    page = client.get(f"/devices/{device_id}").get_data(as_text=True)
    assert "screenshot uploaded" in page and "screenshot.png" in page


def test_records_spooled_while_the_controller_is_stopped_arrive_once_in_order(tmp_path):
    """A real controller process is stopped and started again between agent runs."""
    import os
    import socket
    import sqlite3
    import time

    telecentre = str(Path(sys.executable).with_name("telecentre"))
    instance = tmp_path / "instance"
    env = {**os.environ, "TELECENTRE_INSTANCE_PATH": str(instance)}

    def cli(*args):
        done = subprocess.run(
            [telecentre, *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return (done.stdout.strip().splitlines() or [""])[-1]

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"

    def start():
        server = subprocess.Popen(
            [telecentre, "run", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60  # a loaded 2-core machine boots gunicorn slowly
        while time.monotonic() < deadline and server.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return server
            except OSError:
                time.sleep(0.1)
        server.kill()
        raise AssertionError("the controller did not start")

    cli("db", "upgrade")
    cli("demo-data")
    token = cli("enrollment-token", "create", "--office", "Urząd Gminy Cyców")
    state = tmp_path / "agent"
    server = start()
    try:
        _agent(state, "enroll", "--controller", url, "--token", token)
        _agent(state, "run", "--once")
    finally:
        server.terminate()
        server.wait(timeout=30)
    for _ in range(3):  # three heartbeats (and three agent restarts) during the outage
        assert "not reachable" in _agent(state, "run", "--once").stderr
    assert len(list((state / "spool").glob("*.json"))) == 3
    server = start()
    try:
        _agent(state, "run", "--once")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert list((state / "spool").glob("*.json")) == []
    device_id = json.loads((state / "identity.json").read_text())["device_id"]
    with sqlite3.connect(instance / "telecentre.sqlite3") as db_file:
        seq, state_now = db_file.execute(
            "SELECT agent_seq, state FROM devices WHERE id = ?", (device_id,)
        ).fetchone()
    assert (seq, state_now) == (5, "online")


@pytest.mark.parametrize("app", [{"AGENT_INTERVAL": 1}], indirect=True)
def test_heartbeats_go_on_while_a_long_command_runs(app, live_server, tmp_path):
    import time

    from controller.fleet.commands import queue
    from controller.fleet.models import Command
    from tests.conftest import make_user

    office = make_office()
    _row, token = create_token(Actor(None, "cli"), office, TokenCreate())
    state, flag = tmp_path / "agent", tmp_path / "finish"
    script = tmp_path / "long.sh"  # an `apt upgrade` that takes as long as the test wants
    script.write_text(f"#!/bin/sh\nwhile [ ! -e {flag} ]; do sleep 0.1; done\necho upgraded\n")
    script.chmod(0o755)
    config = tmp_path / "agent.conf"
    config.write_text(f"[agent]\nstart_delay = 0\n[scripts]\nupgrade = {script}\n")
    env = {"PATH": "/usr/bin:/bin", "TELECENTRE_AGENT_CONFIG": str(config)}
    _agent(state, "enroll", "--controller", live_server, "--token", token)
    device_id = json.loads((state / "identity.json").read_text())["device_id"]
    queue(Actor(make_user("it_admin"), "ui"), db.session.get(Device, device_id),
          CommandCreate(kind="run_script", script="upgrade"))  # fmt: skip
    db.session.commit()
    agent = subprocess.Popen(  # noqa: S603
        [AGENT, "run", "--interval", "0.5", "--state-dir", str(state)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:

        def seq() -> int:
            db.session.rollback()
            return db.session.get(Device, device_id).agent_seq

        deadline = time.monotonic() + 20
        while seq() < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        during = seq()
        time.sleep(2.5)  # the command is still running: the script waits for the flag
        assert seq() >= during + 2, "heartbeats stopped while the command ran"
        flag.touch()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            db.session.rollback()
            command = db.session.scalars(select(Command)).one()
            if command.exit_code is not None:
                break
            time.sleep(0.1)
        assert command.exit_code == 0 and "upgraded" in command.output
    finally:
        agent.terminate()
        agent.communicate(timeout=30)
