"""`telecentre-sim`: virtual devices speaking the real protocol to a real controller."""

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from controller.audit.service import Actor
from controller.devices.models import Device
from controller.extensions import db
from controller.fleet.enrollment import create_token
from controller.fleet.schemas import TokenCreate
from tests.conftest import make_office

SIM = str(Path(sys.executable).with_name("telecentre-sim"))


@pytest.fixture
def backend():
    """The simulator talks to a threaded live server; SQLite is enough for the protocol."""
    return "sqlite"


def test_simulated_fleet_enrols_and_stays_online(live_server, tmp_path):
    offices = [make_office(), make_office()]
    tokens = [create_token(Actor(None, "cli"), o, TokenCreate(uses=3))[1] for o in offices]
    args = [
        SIM,
        "--controller",
        live_server,
        "--devices",
        "3",
        "--interval",
        "0.3",
        "--duration",
        "2",
        "--state-dir",
        str(tmp_path),
    ]
    for token in tokens:
        args += ["--token", token]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    db.session.rollback()
    devices = db.session.scalars(select(Device).order_by(Device.id)).all()
    assert len(devices) == 6
    assert {d.office_id for d in devices} == {o.id for o in offices}
    assert all(d.state == "online" and d.agent_seq >= 2 and d.inventory for d in devices)
    assert sorted(d.kind.value for d in devices).count("infomat") == 2
    # a second run reuses the stored identities (the tokens are used up by now)
    again = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
