"""The real gateway daemon and portal against the real controller, across namespaces.

The other network tests use a stand-in controller to pin down the gateway's side of
docs/portal-api.md; this one runs `telecentre run` itself in the "internet" namespace, on the
test's database, so both sides of the contract are the shipped code.
"""

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from controller.audit.service import Actor
from controller.database import write_transaction
from controller.devices.models import Device, DeviceKind
from controller.extensions import db
from controller.fleet.enrollment import create_token
from controller.fleet.schemas import TokenCreate
from controller.portal import monitor, vouchers
from controller.portal.models import PortalSession
from controller.portal.schemas import BatchCreate
from tests.conftest import make_office, make_user
from tests.gateway.netlab import CONTROLLER_PORT, NET_IP, PY, Browser, Lab, require_netns, sh
from tests.gateway.test_netns import wait_for

TELECENTRE = str(Path(PY).with_name("telecentre"))


@pytest.fixture
def backend():
    """The controller process shares the test's database file: SQLite."""
    return "sqlite"


class ControllerLab(Lab):
    """The lab with the real controller (gunicorn) where the stand-in usually runs."""

    def __init__(self, tmp, controller_env: dict) -> None:
        self.controller_env = controller_env
        super().__init__(tmp, {}, {})

    def start_controller(self) -> None:
        self.spawn(
            "controller",
            "net",
            [TELECENTRE, "run", "--bind", f"{NET_IP}:{CONTROLLER_PORT}", "--workers", "1"],
            ready=None,
            port=("net", CONTROLLER_PORT),
            env=self.controller_env,
        )  # fmt: skip


@pytest.mark.parametrize("app", [{"AGENT_INTERVAL": 1}], indirect=True)
def test_a_visitor_gets_online_with_a_voucher_and_staff_end_the_session(app, tmp_path):
    require_netns()
    office = make_office()
    _row, token = create_token(Actor(None, "cli"), office, TokenCreate())
    key = vouchers.voucher_key(app.config["SECRET_KEY"])
    _batch, codes = vouchers.create_batch(
        Actor(None, "cli"), office, BatchCreate(office_id=office.id, count=2), key
    )
    db.session.commit()
    config = app.config
    env = {
        "TELECENTRE_DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "TELECENTRE_SECRET_KEY": config["SECRET_KEY"],
        "TELECENTRE_CONTROLLER_ID": config["CONTROLLER_ID"],
        "TELECENTRE_AGENT_INTERVAL": "1",
        "TELECENTRE_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    lab = ControllerLab(tmp_path, env)
    try:
        sh("ip", "netns", "exec", lab.ns["gw"], PY, "-m", "agents.gateway.main", "enroll",
           "--state-dir", str(lab.state), "--controller", f"http://{NET_IP}:{CONTROLLER_PORT}",
           "--token", token)  # fmt: skip
        gateway_id = json.loads((lab.state / "identity.json").read_text())["device_id"]
        db.session.rollback()
        assert db.session.get(Device, gateway_id).kind == DeviceKind.GATEWAY
        # Staff's command comes with a heartbeat; syncs need not crowd the SQLite file.
        lab.start_gateway(sync_interval=5, heartbeat_interval=0.5)

        c1, c2 = Browser(lab, lab.ns["c1"]), Browser(lab, lab.ns["c2"])
        assert not c1.online()
        status, url, page = c1.login("wrong-code")
        assert status == 403 and not c1.online(), page
        status, url, page = c1.login(codes[0].lower())  # typed as it comes
        assert status == 200 and url.endswith("/status"), page
        assert c1.online() and not c2.online()

        def live():
            db.session.rollback()
            return db.session.scalars(
                select(PortalSession).where(PortalSession.office_id == office.id)
            ).all()

        [session] = live()
        assert session.device_id == gateway_id and session.method == "voucher"
        assert session.ended_at is None and len(session.pseudonym) == 32  # never the raw MAC

        # The gateway writes heartbeats meanwhile: read-then-write here takes the write lock
        # first, as a staff request does, or SQLite refuses the stale read's upgrade.
        write_transaction()
        staff = make_user("it_admin", offices=[office])
        write_transaction()
        monitor.end_by_hand(Actor(staff, "ui"), session)
        assert wait_for(lambda: not c1.online(), timeout=20), "the gateway ended the session"
        ended = wait_for(lambda: live()[0].ended_at is not None and live()[0], timeout=20)
        assert ended and ended.end_reason == "admin"
    finally:
        lab.close()
