"""Helpers of the portal tests: a signed gateway, vouchers, visitor pseudonyms."""

import json
import uuid

from agents.common import signing
from controller.audit.service import Actor
from controller.devices.models import DeviceKind
from controller.extensions import db
from controller.fleet.enrollment import device_secret
from controller.portal import vouchers
from controller.portal.schemas import BatchCreate
from tests.conftest import make_device

CLI = Actor(None, "cli")


class Gateway:
    """A gateway device of an office that signs its requests like the real daemon."""

    def __init__(self, client, office, kind=DeviceKind.GATEWAY):
        self.client, self.office = client, office
        self.device = make_device(office, kind=kind, agent_salt=uuid.uuid4().hex)
        self.secret = device_secret(client.application.config["SECRET_KEY"], self.device)
        self.seq = 0

    def post(self, path: str, payload, language: str = "en"):
        """A signed POST; the answer's signature is checked too."""
        body = json.dumps(payload).encode()
        headers = signing.sign_request(self.secret, self.device.id, "POST", path, body)
        headers.update({"Content-Type": "application/json", "Accept-Language": language})
        answer = self.client.post(path, data=body, headers=headers)
        if signing.SIGNATURE in answer.headers:
            expected = signing.answer_signature(self.secret, headers[signing.NONCE],
                                                answer.status_code, answer.data)  # fmt: skip
            assert signing.same(expected, answer.headers[signing.SIGNATURE])
        return answer

    def start(self, pseudonym: str, method: str = "voucher", code=None, **kw):
        """Ask for a session; returns the answer."""
        body = {"session_id": kw.pop("session_id", str(uuid.uuid4())), "method": method,
                "code": code, "terms_accepted": kw.pop("terms", method == "click"),
                "pseudonym": pseudonym, "language": kw.pop("language", "en"), **kw}  # fmt: skip
        return self.post("/api/portal/v1/sessions", body)

    def end(self, session_id: str, **kw):
        """End a session through the portal verb."""
        body = {"reason": "logout", "bytes_down": 0, "bytes_up": 0, **kw}
        return self.post(f"/api/portal/v1/sessions/{session_id}/end", body)

    def records(self, *records):
        """Send spooled records through the agent heartbeat."""
        items = []
        for kind, body in records:
            self.seq += 1
            items.append({"seq": self.seq, "kind": kind, "body": body})
        return self.post("/api/agent/v1/heartbeat", {"records": items})


def pseudonym(n: int) -> str:
    """A visitor pseudonym (32 hex characters)."""
    return f"{n:08x}" + "e" * 24


def batch(app, office, **kw):
    """A batch of vouchers made as the CLI would; returns (batch, codes)."""
    kw.setdefault("count", 2)
    key = vouchers.voucher_key(app.config["SECRET_KEY"])
    made = vouchers.create_batch(CLI, office, BatchCreate(office_id=office.id, **kw), key)
    db.session.expire_all()
    return made
