"""Telecentre PC login sessions: counted by the real agent, summed by the controller, reported.

A console login cannot exist on a test machine, so a stand-in `who` command (first in the
agent's PATH) prints a logged-in user while a marker file exists; everything else is real.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from agents.endpoint.pcusage import PcSessions
from controller.audit.service import Actor
from controller.extensions import db
from controller.fleet.enrollment import create_token
from controller.fleet.models import UsageCounter
from controller.fleet.schemas import TokenCreate
from controller.reports import indicators
from controller.reports.periods import Period, today
from controller.types import utcnow
from tests.conftest import make_office

AGENT = str(Path(sys.executable).with_name("telecentre-agent"))
FAKE_WHO = """#!/bin/sh
# Stand-in for `who`: a console login cannot exist on the test machine.
[ -f {marker} ] && echo "resident-jan tty1 2026-11-21 10:00"
exit 0
"""


@pytest.fixture
def backend():
    """The agent talks to a threaded live server; SQLite is enough to prove the protocol."""
    return "sqlite"


def test_logins_are_counted_without_names(tmp_path):
    logins = PcSessions(tmp_path / "pc.json", max_gap=300)
    assert logins.observe(None, 1000.0) is None
    assert logins.observe("jan", 1060.0) == {"pc_sessions": 1, "pc_seconds": 0, "at": 1060.0}
    assert logins.observe("jan", 1120.5) == {"pc_sessions": 0, "pc_seconds": 60, "at": 1120.5}
    # the agent restarts: the same login goes on
    again = PcSessions(tmp_path / "pc.json", max_gap=300)
    assert again.observe("jan", 1180.0) == {"pc_sessions": 0, "pc_seconds": 60, "at": 1180.0}
    assert again.observe("ewa", 1240.0)["pc_sessions"] == 1  # another user: a new session
    assert again.observe("ewa", 2000.0)["pc_sessions"] == 1  # off for long: a new session
    assert again.observe(None, 2060.0) is None
    assert "jan" not in (tmp_path / "pc.json").read_text()


def _agent(state: Path, bin_dir: Path, *args: str) -> None:
    result = subprocess.run(
        [AGENT, *args, "--state-dir", str(state)], capture_output=True, text=True, timeout=60,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "TELECENTRE_AGENT_CONFIG": "/nonexistent"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_the_real_agent_reports_pc_sessions_and_hours(app, live_server, tmp_path):
    office = make_office(name="Urząd Gminy Cyców")
    _row, token = create_token(Actor(None, "cli"), office, TokenCreate())
    state, bin_dir, marker = tmp_path / "agent", tmp_path / "bin", tmp_path / "logged-in"
    bin_dir.mkdir()
    who = bin_dir / "who"
    who.write_text(FAKE_WHO.format(marker=marker))
    who.chmod(0o755)
    _agent(state, bin_dir, "enroll", "--controller", live_server, "--token", token)
    device_id = json.loads((state / "identity.json").read_text())["device_id"]

    _agent(state, bin_dir, "run", "--once")  # nobody at the PC
    marker.touch()
    _agent(state, bin_dir, "run", "--once")  # a login: one session
    time.sleep(2.2)
    _agent(state, bin_dir, "run", "--once")  # still logged in: two seconds more
    marker.unlink()
    _agent(state, bin_dir, "run", "--once")  # logged out
    marker.touch()
    _agent(state, bin_dir, "run", "--once")  # a second login

    db.session.rollback()
    counters = dict(db.session.execute(
        select(UsageCounter.metric, UsageCounter.value).where(UsageCounter.device_id == device_id)
    ).all())  # fmt: skip
    assert counters["pc_sessions"] == 2
    assert 2 <= counters["pc_seconds"] <= 10
    day = today(utcnow())
    offices, devices = indicators.compute(Period(day, day), [office.id], utcnow())
    assert offices[office.id]["pc_sessions"] == 2
    assert devices[device_id]["pc_hours"] == round(counters["pc_seconds"] / 3600, 4)
    for path in state.rglob("*"):
        if path.is_file():
            assert "resident-jan" not in path.read_text(errors="ignore"), path
