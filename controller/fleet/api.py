"""The agent API, /api/agent/v1: one small view per verb behind one shared guard."""

import json

from flask import Blueprint, current_app, jsonify, request

from controller.api.core import OPERATIONS, Operation
from controller.database import begin_writing, commit
from controller.errors import DomainError
from controller.extensions import csrf, db, limiter
from controller.fleet import commands, enrollment, ingest
from controller.fleet.guard import agent_view, parse_body, signed_answer
from controller.fleet.schemas import (
    EnrollAnswer,
    EnrollRequest,
    ScreenshotStored,
    SyncAnswer,
    SyncRequest,
)
from controller.types import utcnow

bp = Blueprint("agent", __name__, url_prefix="/api/agent/v1")
csrf.exempt(bp)  # agents sign their requests; no browser session is involved
limiter.exempt(bp)  # a replayed or forged request fails its signature check first
bp.after_request(signed_answer)


def _document(rule, summary, body, response, security, errors) -> None:
    name = "agent_" + rule.strip("/").split("/")[0]
    OPERATIONS.append(
        Operation(rule, "POST", name, summary, "agent", None, None, body, response, 200,
                  list(errors), "/api/agent/v1", security)
    )  # fmt: skip


@bp.post("/enroll")
def enroll():
    """Exchange an office enrolment token for a device id and secret."""
    data = parse_body(EnrollRequest)
    begin_writing()  # enrolment reads, then writes: take the write lock up front
    config = current_app.config
    device, secret = enrollment.enroll(data, config["SECRET_KEY"], request.remote_addr or "")
    answer = EnrollAnswer(device_id=device.id, secret=secret, controller_id=config["CONTROLLER_ID"],
                          interval=config["AGENT_INTERVAL"])  # fmt: skip
    return jsonify(answer.model_dump(mode="json"))


def records_of(data: SyncRequest) -> ingest.Batch:
    """The records of a heartbeat request, their bodies validated (before the write lock)."""
    return ingest.Batch(data.records)


@bp.post("/heartbeat")
@agent_view(SyncRequest, prepare=records_of)
def heartbeat(device, batch: ingest.Batch):
    """Take the agent's spooled records (heartbeats first of all); answer with what is next."""
    ack, wanted = batch.apply(device)
    handed = commands.for_answer(device)
    commit()  # the write lock is held until here: the answer is written after it
    answer = sync_answer(ack, wanted, current_app.config["AGENT_INTERVAL"], handed)
    return current_app.response_class(answer, mimetype="application/json")


def sync_answer(ack: int, wanted: bool, interval: int, handed: list[dict]) -> bytes:
    """The SyncAnswer document, written directly: this answer goes out 1,500 times a second."""
    answer = {
        "ack": ack, "inventory_wanted": wanted, "interval": interval, "commands": handed,
        "controller_time": utcnow().isoformat(),
    }  # fmt: skip
    return _compact(answer).encode()


_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


SCREENSHOT_MAX = 6 * 1024 * 1024


@bp.before_request
def _screenshot_size():
    if request.endpoint == "agent.screenshot":
        request.max_content_length = SCREENSHOT_MAX  # a screen as PNG, not a JSON body


@bp.post("/screenshots/<uid>")
@agent_view()
def screenshot(device, uid: str):
    """Receive the PNG a `screenshot` command took (the path is signed with the body)."""
    if request.mimetype != "image/png":
        raise DomainError("Send the screenshot as image/png.", status=415,
                          code="unsupported_media_type")  # fmt: skip
    stored = commands.store_screenshot(device, uid, request.get_data(cache=True))
    db.session.commit()
    return jsonify(ScreenshotStored(stored=stored).model_dump())


_document("/enroll", "Enrol an agent", EnrollRequest, EnrollAnswer, "", (403, 415, 422))
_document("/heartbeat", "Send heartbeats and spooled records", SyncRequest, SyncAnswer,
          "agentSignature", (401, 413, 415, 422))  # fmt: skip
_document("/screenshots/<uid>", "Upload a screenshot (body: image/png)", None,
          ScreenshotStored, "agentSignature", (401, 404, 413, 415, 422))  # fmt: skip
