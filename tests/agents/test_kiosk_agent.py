"""The real agent process watching a real kiosk process on an infomat, end to end.

The kiosk "browser" is a small HTTP server started under its own process name; the agent's
restart command is a script that (re)starts it, as `systemctl restart kiosk` would. Input
events arrive through a FIFO standing in for /dev/input/event*, in the kernel's own format.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from controller.audit.service import Actor
from controller.devices.models import Device
from controller.extensions import db
from controller.fleet.enrollment import create_token
from controller.fleet.models import UsageCounter
from controller.fleet.schemas import TokenCreate
from tests.conftest import make_office

AGENT = str(Path(sys.executable).with_name("telecentre-agent"))
KIOSK_PAGE = """
import http.server, pathlib, sys
hang = pathlib.Path(sys.argv[2])
class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(500 if hang.exists() else 200)
        self.end_headers()
        self.wfile.write(b"kiosk")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Page).serve_forever()
"""
# What `systemctl restart kiosk` does: stop the old browser, start a new one, return.
RESTART = """#!/bin/sh
[ -f {pid} ] && kill "$(cat {pid})" 2>/dev/null && sleep 0.3
rm -f {hang}
setsid {exe} {page} {port} {hang} >/dev/null 2>&1 &
echo $! > {pid}
echo restart >> {log}
"""


@pytest.fixture
def backend():
    """Agent processes talk to a threaded live server; SQLite is enough to prove the protocol."""
    return "sqlite"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.rollback()  # see what the agent's requests committed meanwhile
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _running(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


@pytest.mark.parametrize("app", [{"AGENT_INTERVAL": 1}], indirect=True)
def test_the_agent_restarts_a_dead_or_hung_kiosk_and_counts_interaction_sessions(
    app, live_server, tmp_path
):
    name = "tck-" + secrets.token_hex(4)  # the kiosk's process name, unique to this test
    exe = tmp_path / name
    exe.symlink_to(sys.executable)  # /proc/<pid>/comm is the name it was started by
    page, pid_file, hang, log = (tmp_path / n for n in ("kiosk.py", "kiosk.pid", "hang", "log"))
    page.write_text(KIOSK_PAGE)
    port = _free_port()
    restart = tmp_path / "restart-kiosk.sh"
    restart.write_text(
        RESTART.format(pid=pid_file, hang=hang, exe=exe, page=page, port=port, log=log)
    )
    restart.chmod(0o755)
    fifo = tmp_path / "event0"
    os.mkfifo(fifo)
    config = tmp_path / "agent.conf"
    config.write_text(
        f"[agent]\nstart_delay = 0\n"
        f"[commands]\nrestart_kiosk = {restart}\n"
        f"[kiosk]\nprocess = {name}\nurl = http://127.0.0.1:{port}/\n"
        f"input = {fifo}\nidle_gap = 1\n"
    )
    env = {"PATH": "/usr/bin:/bin", "TELECENTRE_AGENT_CONFIG": str(config)}
    state = tmp_path / "state"
    _row, token = create_token(Actor(None, "cli"), make_office(), TokenCreate())
    enrol = [AGENT, "enroll", "--controller", live_server, "--token", token]
    subprocess.run([*enrol, "--state-dir", str(state)], env=env, check=True, timeout=30)
    device_id = json.loads((state / "identity.json").read_text())["device_id"]
    subprocess.run([str(restart)], check=True, timeout=10)  # the kiosk starts with the machine
    first_pid = _wait(lambda: _running(pid_file), 10, "the kiosk to start")

    agent = subprocess.Popen(  # noqa: S603
        [AGENT, "run", "--interval", "0.5", "--state-dir", str(state)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def kiosk_state():
            device = db.session.get(Device, device_id)
            return (device.health or {}).get("kiosk")

        healthy = _wait(lambda: (s := kiosk_state()) and s["responding"] and s, 20, "a heartbeat")
        assert healthy["running"] is True and healthy["restarts"] == 0

        # The browser dies: after two bad checks the agent restarts it.
        os.kill(first_pid, signal.SIGKILL)
        second_pid = _wait(lambda: (p := _running(pid_file)) != first_pid and p, 20, "a restart")
        assert log.read_text().count("restart") == 2
        _wait(lambda: (s := kiosk_state()) and s["restarts"] == 1 and s["running"], 20, "report")

        # The browser hangs (its page answers 500 but the process runs): restarted too.
        hang.touch()
        _wait(lambda: _running(pid_file) not in (None, second_pid), 20, "a second restart")
        assert not hang.exists() and log.read_text().count("restart") == 3
        after = _wait(lambda: (s := kiosk_state()) and s["restarts"] == 2 and s, 20, "report")
        assert after["running"] is True

        # A visitor touches the screen, leaves, and a second visitor comes after the idle gap.
        event = struct_event()
        with open(fifo, "wb", buffering=0) as touch:
            touch.write(event * 3)  # one touch: several events, one session
            time.sleep(1.5)
            touch.write(event)

        def sessions():
            rows = db.session.scalars(
                select(UsageCounter.value).where(
                    UsageCounter.device_id == device_id,
                    UsageCounter.metric == "interaction_sessions",
                )
            ).all()
            return sum(rows) >= 2 and sum(rows)

        assert _wait(sessions, 20, "two interaction sessions") == 2
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            _out, errors = agent.communicate(timeout=15)
        finally:
            if pid := _running(pid_file):
                os.kill(pid, signal.SIGKILL)
    assert agent.returncode == 0, errors


def struct_event() -> bytes:
    """One EV_KEY input event as the kernel writes it to /dev/input/event*."""
    from agents.endpoint.kiosk import EV_KEY, EVENT

    return EVENT.pack(0, 0, EV_KEY, 330, 1)  # BTN_TOUCH pressed
