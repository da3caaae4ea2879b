"""A STAND-IN for the controller's portal API, speaking docs/portal-api.md, for gateway tests.

The real controller side is built on another branch; this double answers the contract's
verbs with signed answers (agents/common/signing.py) so the real gateway daemon can be tested
against it. Run as a process (`python -m tests.gateway.fake_controller CONFIG PORT`) in the
test network's "internet" namespace, so stopping it is a real outage. Every record and
session call is appended to `log` (JSON lines) for the test to read.

CONFIG (JSON): controller_id, device_id, secret, token, voucher_key, pseudonym_salt, policy,
vouchers ({code: {"seconds", "bytes", "max_devices", "valid_until"}}), log.
"""

import hashlib
import hmac
import json
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agents.common import signing
from agents.common.contract import normalise_code

VOUCHER_ERRORS = {"voucher_unknown", "voucher_used_up", "voucher_expired"}


class FakeController:
    """The state of the stand-in: vouchers used, sessions granted, records received."""

    def __init__(self, config: dict) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.grants: dict[str, dict] = {}
        self.used: dict[str, set] = {}
        self.ack = 0

    def _hash(self, code: str) -> str:
        key = bytes.fromhex(self.config["voucher_key"])
        return hmac.new(key, normalise_code(code).encode(), hashlib.sha256).hexdigest()

    def log(self, entry: dict) -> None:
        """Append one JSON line to the log file."""
        with self.lock, open(self.config["log"], "a") as out:
            out.write(json.dumps(entry) + "\n")

    def sync(self, body: dict) -> tuple[int, dict]:
        """The sync verb: everything, every time (versions are fixed strings)."""
        vouchers = [
            {
                "hash": self._hash(code),
                "seconds": v.get("seconds", 3600),
                "bytes": v.get("bytes"),
                "max_devices": v.get("max_devices", 1),
                "multi_use": False,
                "valid_until": v.get("valid_until")
                or (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            }
            for code, v in self.config["vouchers"].items()
        ]
        current = body.get("policy_version") == "p1" and body.get("vouchers_version") == "v1"
        self.log({"verb": "sync"})
        return 200, {
            "office_id": 1,
            "policy_version": "p1",
            "vouchers_version": "v1",
            "policy": None if current else self.config["policy"],
            "vouchers": None if current else vouchers,
            "voucher_key": self.config["voucher_key"],
            "pseudonym_salt": self.config["pseudonym_salt"],
            "controller_time": datetime.now(UTC).isoformat(),
        }

    def start(self, body: dict) -> tuple[int, dict]:
        """The session verb: a grant or a refusal with the contract's codes."""
        policy = self.config["policy"]
        with self.lock:
            if body.get("session_id") in self.grants:
                return 200, self.grants[body["session_id"]]
        if not body.get("terms_accepted"):
            return _refuse("terms_not_accepted")
        if body.get("method") not in policy["methods"]:
            return _refuse("method_not_allowed")
        seconds, cap = policy["session_seconds"], policy.get("session_bytes")
        if body["method"] == "voucher":
            code = normalise_code(body.get("code") or "")
            voucher = {normalise_code(k): v for k, v in self.config["vouchers"].items()}.get(code)
            if voucher is None:
                return _refuse("voucher_unknown")
            with self.lock:
                devices = self.used.setdefault(code, set())
                if body["pseudonym"] not in devices and len(devices) >= voucher.get(
                    "max_devices", 1
                ):
                    return _refuse("voucher_used_up")
                devices.add(body["pseudonym"])
            seconds = min(seconds, voucher.get("seconds", seconds))
            if voucher.get("bytes") is not None:
                cap = voucher["bytes"]
        grant = {
            "session_id": body["session_id"],
            "seconds": seconds,
            "bytes": cap,
            "rate_down_kbit": policy.get("rate_down_kbit"),
            "rate_up_kbit": policy.get("rate_up_kbit"),
            "idle_timeout_seconds": policy.get("idle_timeout_seconds"),
            "expires_at": (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(),
        }
        with self.lock:
            self.grants[body["session_id"]] = grant
        self.log({"verb": "session_start", "body": body})
        return 200, grant

    def heartbeat(self, body: dict) -> tuple[int, dict]:
        """Records through the spool: logged once each, acknowledged by sequence number."""
        for record in body.get("records", []):
            with self.lock:
                fresh = record["seq"] > self.ack
                self.ack = max(self.ack, record["seq"])
            if fresh:
                self.log({"verb": "record", "record": record})
        self.log({"verb": "heartbeat"})
        return 200, {
            "ack": self.ack,
            "inventory_wanted": False,
            "interval": 1,
            "commands": [],
            "controller_time": datetime.now(UTC).isoformat(),
        }


def _refuse(code: str) -> tuple[int, dict]:
    return 403, {"error": {"code": code, "message": code, "fields": {}}}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        fake: FakeController = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.loads(raw or b"{}")
        if self.path == "/api/agent/v1/enroll":
            if body.get("token") != fake.config["token"]:
                return self._answer(403, {"error": {"code": "bad_token", "message": "no"}}, None)
            return self._answer(
                200,
                {
                    "device_id": fake.config["device_id"],
                    "secret": fake.config["secret"],
                    "controller_id": fake.config["controller_id"],
                    "interval": 1,
                },
                None,
            )
        secret = fake.config["secret"]
        expected = signing.request_signature(
            secret,
            "POST",
            self.path,
            self.headers.get(signing.TIMESTAMP, ""),
            self.headers.get(signing.NONCE, ""),
            raw,
        )
        if not signing.same(expected, self.headers.get(signing.SIGNATURE, "")):
            return self._answer(401, {"error": {"code": "unsigned", "message": "no"}}, None)
        routes = {
            "/api/portal/v1/sync": fake.sync,
            "/api/portal/v1/sessions": fake.start,
            "/api/agent/v1/heartbeat": fake.heartbeat,
        }
        if self.path in routes:
            status, answer = routes[self.path](body)
        elif self.path.startswith("/api/portal/v1/sessions/") and self.path.endswith("/end"):
            fake.log({"verb": "session_end", "path": self.path, "body": body})
            status, answer = 200, {"session_id": self.path.split("/")[-2], "ended": True}
        else:
            status, answer = 404, {"error": {"code": "not_found", "message": "no"}}
        self._answer(status, answer, secret)

    def _answer(self, status: int, answer: dict, secret: str | None) -> None:
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header(signing.CONTROLLER, self.server.fake.config["controller_id"])
        if secret:
            nonce = self.headers.get(signing.NONCE, "")
            self.send_header(
                signing.SIGNATURE, signing.answer_signature(secret, nonce, status, data)
            )
        self.end_headers()
        self.wfile.write(data)


def serve(config: dict, host: str, port: int) -> ThreadingHTTPServer:
    """A server bound and ready; call serve_forever()."""
    server = ThreadingHTTPServer((host, port), _Handler)
    server.fake = FakeController(config)
    return server


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        conf = json.load(f)
    srv = serve(conf, sys.argv[2], int(sys.argv[3]))
    print("ready", flush=True)
    srv.serve_forever()
