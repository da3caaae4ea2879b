"""The heartbeat lane: the common heartbeat answered without Flask's request machinery.

Every agent calls POST /api/agent/v1/heartbeat every 30 s, so that one verb is nearly all the
controller's traffic. Through the devices app, Flask's request context, routing, hooks,
response object and teardown cost about as much as the heartbeat's own work. The lane sits in
front of the devices app and runs the very same steps as its view — the guard's
`read_signature`, `verify` and `lock`, the records' `Batch`, the same answer and answer signature,
the same request metrics — on a SQLite connection of its own per worker thread.

It answers only the common case: heartbeat records from an approved, online device with no
commands waiting. Anything else — a refusal, other kinds of records, a state change, commands
to hand out, a database error — is rolled back and passed on, body included, to the devices
app, which answers it exactly as it would have without the lane. On PostgreSQL (or an
in-memory SQLite) the devices app answers every heartbeat.
"""

import io
import logging
import sqlite3
import threading
import time

from flask import Flask
from pydantic import ValidationError

from agents.common import signing
from controller.database import begin_immediate
from controller.devices.models import DeviceState
from controller.errors import DomainError
from controller.extensions import db
from controller.fleet.api import records_of, sync_answer
from controller.fleet.guard import (
    MAX_BODY,
    Signature,
    answer_headers,
    lock,
    read_signature,
    verify,
)
from controller.fleet.ingest import Batch
from controller.fleet.schemas import SyncRequest
from controller.metrics.instruments import devices_answered

log = logging.getLogger(__name__)
PATH = "/api/agent/v1/heartbeat"
ENDPOINT = "agent.heartbeat"  # the devices app's endpoint name, for the request metrics
SETTING = "AGENT_HEARTBEAT_LANE"  # False: every heartbeat goes through the devices app


class HeartbeatLane:
    """WSGI: answers common heartbeats itself and passes everything else to `next_app`."""

    def __init__(self, app: Flask, next_app) -> None:
        self.app, self.next_app = app, next_app
        self._local = threading.local()  # this thread's (dialect, sqlite3 connection)
        self._usable: bool | None = None  # decided on the first heartbeat
        self.answered = self.passed = 0  # heartbeats of this process by who answered (tests)
        self._done = devices_answered(ENDPOINT, 200)

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.next_app(environ, start_response)
        started = time.perf_counter()
        body = _json_body(environ, self._limit()) if self._use() else None
        if body is not None:
            answered = self._answer(environ, body)
            if answered is not None:
                answer, headers = answered
                headers["Content-Type"] = "application/json"
                headers["Content-Length"] = str(len(answer))
                start_response("200 OK", list(headers.items()))
                self._done(time.perf_counter() - started)
                self.answered += 1
                return [answer]
            environ["wsgi.input"] = io.BytesIO(body)  # what was read, for the devices app
        self.passed += 1
        return self.next_app(environ, start_response)

    def _use(self) -> bool:
        if self._usable is None:  # the database's kind: decided once
            with self.app.app_context():
                url = db.engine.url
            self._usable = url.get_backend_name() == "sqlite" and url.database not in (
                None, "", ":memory:")  # fmt: skip
        return self._usable and self.app.config.get(SETTING, True)

    def _limit(self) -> int:
        most = self.app.config.get("MAX_CONTENT_LENGTH")  # the devices app answers 413 above
        return MAX_BODY if most is None else min(MAX_BODY, most)

    def _target(self):
        target = getattr(self._local, "target", None)
        if target is None:
            with self.app.app_context():
                fairy = db.engine.raw_connection()  # the engine's connect hooks: the pragmas
                dialect = db.engine.dialect
            driver = fairy.driver_connection
            fairy.detach()  # the lane's own for good: never handed back to the pool
            # Its writes wait by polling (begin_immediate); a read that finds the database
            # busy (recovery after a crash) is passed on to the devices app, which waits.
            driver.execute("PRAGMA busy_timeout=0")
            target = self._local.target = (dialect, driver)
        return target

    def _drop_connection(self) -> None:
        target = getattr(self._local, "target", None)
        self._local.__dict__.clear()
        if target is not None:
            try:
                target[1].close()
            except sqlite3.Error:
                pass  # closed already, or broken: dropped either way

    def _answer(self, environ, body: bytes) -> tuple[bytes, dict[str, str]] | None:
        """The answer and its headers, or None: the devices app answers (nothing written)."""
        config = self.app.config
        try:
            signature = read_signature(lambda name: environ.get(_ENVIRON[name]))
            target = self._target()
            salt, secret = verify(signature, "POST", PATH, body, config["SECRET_KEY"], target)
            batch = records_of(SyncRequest.model_validate_json(body, strict=True))
            if not batch.heartbeats_only:
                return None
            ack = self._take(target, signature, salt, batch)
        except (DomainError, ValidationError):
            return None  # a refusal or a bad body: the devices app says which, as always
        except sqlite3.Error as exc:
            if "locked" not in str(exc):  # waiting 15 s for the lock is no reason to reconnect
                log.warning("heartbeat lane: database error; passed on", exc_info=True)
                self._drop_connection()
            return None
        except Exception:
            log.exception("heartbeat lane: unexpected error; passed on")
            return None
        if ack is None:
            return None
        answer = sync_answer(*ack, config["AGENT_INTERVAL"], [])
        headers = answer_headers(config["CONTROLLER_ID"], secret, signature.nonce, 200, answer)
        return answer, headers

    @staticmethod
    def _take(target, signature: Signature, salt: str, batch: Batch) -> tuple[int, bool] | None:
        driver = target[1]
        begin_immediate(driver, polls=True)
        try:
            device = lock(signature.device_id, signature.nonce, salt, target)
            if device.approved and device.state == DeviceState.ONLINE and not device.commands_open:
                taken = batch.apply(device, target)
                driver.commit()
                return taken
        except BaseException:
            driver.rollback()
            raise
        driver.rollback()
        return None


_ENVIRON = {
    name: "HTTP_" + name.upper().replace("-", "_")
    for name in (signing.DEVICE, signing.TIMESTAMP, signing.NONCE, signing.SIGNATURE)
}


def _json_body(environ, limit: int) -> bytes | None:
    """The body of a plain JSON request of known length within limit, else None."""
    kind = environ.get("CONTENT_TYPE", "")
    length = environ.get("CONTENT_LENGTH", "")
    if kind.partition(";")[0].strip().lower() != "application/json":
        return None
    if not (0 < len(length) <= 9 and length.isascii() and length.isdigit()):
        return None
    if not 0 < int(length) <= limit:
        return None
    if "HTTP_TRANSFER_ENCODING" in environ or environ.get("QUERY_STRING"):
        return None  # a chunked body; a query, which the devices app checks for NUL
    return environ["wsgi.input"].read(int(length))
