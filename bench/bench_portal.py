"""Granting a hotspot session (signed portal verb) versus a signed heartbeat, in process."""

import json
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from agents.common import signing
from bench import _agents, _controller
from bench._figures import Figure

STARTS = 400  # sessions granted in the measured run (each a new visitor pseudonym)
HISTORY = 20_000  # earlier sessions: 4 of 10 minutes for each of 5,000 visitors, these too
TARGET_RATIO = 0.5


def _gateway(app):
    """A signed gateway device of the first demo office, and its secret."""
    from controller.audit.service import Actor
    from controller.devices.models import Device, DeviceKind, Management
    from controller.extensions import db
    from controller.fleet.enrollment import device_secret
    from controller.offices.models import Office
    from controller.portal import policies
    from controller.portal.models import PortalSession
    from controller.types import utcnow

    office = db.session.query(Office).order_by(Office.id).first()
    gateway = Device(office_id=office.id, kind=DeviceKind.GATEWAY, name="BENCH-GW",
                     management=Management.AGENT, agent_salt=uuid.uuid4().hex)  # fmt: skip
    db.session.add(gateway)
    db.session.flush()
    now = utcnow()
    db.session.bulk_insert_mappings(PortalSession, [
        {"session_id": uuid.uuid4().hex, "office_id": office.id, "device_id": gateway.id,
         "pseudonym": f"{i % 5000:032x}", "method": "click", "granted_seconds": 600,
         "started_at": now - timedelta(minutes=i % 2000), "bytes_down": 0, "bytes_up": 0,
         "offline": False}
        for i in range(HISTORY)
    ])  # fmt: skip
    db.session.commit()
    # the demo county keeps office hours; the bench office is open whenever it runs
    policies.save(Actor(None, "cli"), office, policies.BUILT_IN)
    return gateway.id, device_secret(app.config["SECRET_KEY"], gateway)


def _timed(client, device_id: int, secret: str, requests: list[tuple[str, dict]]) -> float:
    """Send signed requests one after another; return requests per second."""
    signed = []
    for path, payload in requests:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = signing.sign_request(secret, device_id, "POST", path, body)
        signed.append((path, body, {**headers, "Content-Type": "application/json"}))
    began = time.perf_counter()
    for path, body, headers in signed:
        answer = client.post(path, data=body, headers=headers)
        if answer.status_code != 200:
            raise RuntimeError(f"{path} answered {answer.status_code}: {answer.data[:200]!r}")
    return len(signed) / (time.perf_counter() - began)


def run() -> list[Figure]:
    """Measure STARTS grants and as many heartbeats on the same app, same database."""
    with tempfile.TemporaryDirectory(prefix="bench-portal-") as tmp:
        instance = Path(tmp) / "instance"
        _controller.cli(instance, "db", "upgrade")
        _controller.cli(instance, "demo-data")
        with _agents.controller_app(instance) as app:
            device_id, secret = _gateway(app)
            client = app.test_client()
            beats = [("/api/agent/v1/heartbeat", {"records": [{"seq": n, "kind": "heartbeat",
                      "body": {"sent_at": time.time(), "sessions_live": 3}}]})
                     for n in range(1, STARTS + 1)]  # fmt: skip
            starts = [("/api/portal/v1/sessions", {
                "session_id": str(uuid.uuid4()), "method": "click", "terms_accepted": True,
                "pseudonym": f"{n:032x}", "language": "pl"}) for n in range(STARTS)]  # fmt: skip
            _timed(client, device_id, secret, beats[:50])  # warm-up: caches, statements
            heartbeat = _timed(client, device_id, secret, beats[50:])
            grant = _timed(client, device_id, secret, starts)
    ratio = grant / heartbeat
    return [
        Figure("portal.start_rps", grant, "grants/s", "higher", "signed_heartbeat_rps", heartbeat,
               f"ratio >= {TARGET_RATIO}", ratio >= TARGET_RATIO),
        Figure("portal.signed_heartbeat_rps", heartbeat, "heartbeats/s", "higher"),
    ]  # fmt: skip
