"""The one authentication guard of the agent API: signed, fresh, never replayed."""

import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app, g, request
from flask_babel import gettext as _
from pydantic import BaseModel, ValidationError
from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from agents.common import signing
from controller.database import begin_writing
from controller.devices.models import Device, DeviceKind, DeviceState
from controller.errors import DomainError, Invalid
from controller.extensions import db
from controller.fleet import commands
from controller.fleet.enrollment import salted_secret
from controller.fleet.models import AgentNonce
from controller.prepared import Prepared, Target
from controller.schemas import MAX_ID
from controller.types import utcnow

MAX_BODY = 512 * 1024
_PURGE_EVERY = 20  # requests of a device, on average, between purges of its old nonces


def _refuse(message: str) -> DomainError:
    return DomainError(message, status=401, code="unauthenticated_agent")


@dataclass
class AgentDevice:
    """The few columns of a device that the agent API works with, read without the ORM."""

    id: int
    office_id: int
    agent_salt: str | None
    approved: bool
    agent_seq: int
    state: DeviceState
    inventory_hash: str | None
    kind: DeviceKind = DeviceKind.PC
    commands_open: bool = True  # read with the row under the write lock; True: look them up


_DEVICE = Prepared(
    select(Device.id, Device.office_id, Device.agent_salt, Device.approved, Device.agent_seq,
           Device.state, Device.inventory_hash, Device.kind).where(Device.id == bindparam("id"))
)  # fmt: skip
_DEVICE_TO_WRITE = Prepared(
    _DEVICE.statement.add_columns(commands.any_open(Device.id)).with_for_update()
)  # a row lock on PostgreSQL; whether commands wait comes with it, saving a statement
_NONCE = Prepared(
    insert(AgentNonce).values(device_id=bindparam("device_id"), nonce=bindparam("nonce"),
                              seen_at=bindparam("seen_at"))
)  # fmt: skip
_OLD_NONCES = Prepared(
    delete(AgentNonce).where(AgentNonce.device_id == bindparam("device_id"),
                             AgentNonce.seen_at < bindparam("before"))
)  # fmt: skip


def parse_body(model: type[BaseModel]):
    """The request's JSON body validated strictly by model (415, 413 or 422 otherwise)."""
    if not request.is_json:
        raise DomainError("Send a JSON body.", status=415, code="unsupported_media_type")
    if (request.content_length or 0) > MAX_BODY:
        raise DomainError("The body is too large.", status=413, code="too_large")
    try:
        return model.model_validate_json(request.get_data(cache=True), strict=True)
    except ValidationError as exc:
        raise Invalid.from_pydantic(exc, "The request body is not valid.") from None


@dataclass(frozen=True)
class Signature:
    """What a request's signature headers say, checked for shape and freshness."""

    device_id: int
    stamp: str
    nonce: str
    given: str


def read_signature(get: Callable[[str], str | None]) -> Signature:
    """The signature headers of a request (get: header name → value), or 401."""
    device_id, stamp = get(signing.DEVICE) or "", get(signing.TIMESTAMP) or ""
    nonce, given = get(signing.NONCE) or "", get(signing.SIGNATURE) or ""
    numbers = (device_id, stamp)  # short ASCII digits: int() of 5,000 digits raises
    if not all(0 < len(n) <= 12 and n.isascii() and n.isdigit() for n in numbers):
        raise _refuse(_("The request is not signed."))
    if not (16 <= len(nonce) <= 64 and nonce.isascii() and nonce.isalnum()) or not given:
        raise _refuse(_("The request is not signed."))
    if abs(time.time() - int(stamp)) > signing.MAX_SKEW:
        raise _refuse(_("The request's timestamp is too far from the controller's clock."))
    if int(device_id) > MAX_ID:
        raise _refuse(_("Unknown device; enrol the agent again."))
    return Signature(int(device_id), stamp, nonce, given)


def verify(
    signature: Signature,
    method: str,
    path: str,
    body: bytes,
    instance_secret: str,
    target: Target | None = None,
) -> tuple[AgentDevice, str]:
    """The signing device, read without the write lock, and its secret; 401 unless the
    signature is the device's over this method, path, timestamp, nonce and body."""
    row = _DEVICE.first({"id": signature.device_id}, target)
    device = AgentDevice(*row) if row is not None else None
    if device is None or device.agent_salt is None:
        raise _refuse(_("Unknown device; enrol the agent again."))
    secret = salted_secret(instance_secret, device.id, device.agent_salt)
    s = signature
    expected = signing.request_signature(secret, method, path, s.stamp, s.nonce, body)
    if not signing.same(expected, s.given):
        raise _refuse(_("Bad signature."))
    return device, secret


def lock(device_id: int, nonce: str, target: Target | None = None) -> AgentDevice:
    """The device row read again under the write lock (which the caller took), with whether
    commands wait; the nonce is used up (401 if the device is gone or the nonce was seen)."""
    row = _DEVICE_TO_WRITE.first({"id": device_id}, target)
    if row is None:
        raise _refuse(_("Unknown device; enrol the agent again."))
    _use_nonce(device_id, nonce, target)
    return AgentDevice(*row)


def authenticate_device(
    model: type[BaseModel] | None = None, prepare: Callable[[Any], Any] | None = None
) -> tuple[AgentDevice, Any]:
    """The device whose valid signature this request carries (401 otherwise), and its body
    (parsed by model, then by prepare if given).

    The signature and the body are checked before the write lock is taken; the device row is
    read again inside the writing transaction, which every later step sees.
    """
    signature = read_signature(request.headers.get)
    body = request.get_data(cache=True)
    device, secret = verify(signature, request.method, request.path, body,
                            current_app.config["SECRET_KEY"])  # fmt: skip
    data = parse_body(model) if model is not None else None
    if prepare is not None:
        data = prepare(data)
    begin_writing()
    try:
        device = lock(device.id, signature.nonce)
    except DomainError:
        db.session.rollback()  # a replay rolls back nothing else: the nonce is the first write
        raise
    g.agent_device, g.agent_secret, g.agent_nonce = device, secret, signature.nonce
    if not device.approved:  # the agent keeps its records spooled until then
        raise DomainError(_("The device waits for an IT admin's approval."), status=403,
                          code="awaiting_approval")  # fmt: skip
    return device, data


def _use_nonce(device_id: int, nonce: str, target: Target | None) -> None:
    now = utcnow()
    try:
        _NONCE.execute({"device_id": device_id, "nonce": nonce, "seen_at": now}, target)
    except IntegrityError:
        raise _refuse(_("This request was already received (replayed nonce).")) from None
    if secrets.randbelow(_PURGE_EVERY) == 0:  # keeps the table at about the replay window
        forget = now - timedelta(seconds=2 * signing.MAX_SKEW)
        _OLD_NONCES.execute({"device_id": device_id, "before": forget}, target)


def answer_headers(
    instance_id: str, secret: str | None, nonce: str | None, status: int, body: bytes
) -> dict[str, str]:
    """The controller's identity on every agent API answer, and its signature when possible."""
    headers = {signing.CONTROLLER: instance_id}
    if secret and nonce:
        headers[signing.SIGNATURE] = signing.answer_signature(secret, nonce, status, body)
    return headers


def signed_answer(response):
    """Stamp the controller's identity on every agent API answer, and sign it when possible."""
    secret, nonce = g.get("agent_secret"), g.get("agent_nonce")
    body = response.get_data() if secret and nonce else b""
    response.headers.update(answer_headers(current_app.config["CONTROLLER_ID"], secret, nonce,
                                           response.status_code, body))  # fmt: skip
    return response


def agent_view(body: type[BaseModel] | None = None, prepare: Callable | None = None) -> Callable:
    """Views of signed verbs get the authenticated device (and the body parsed by body, then
    by prepare: both before the write lock is taken)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(**kwargs):
            device, data = authenticate_device(body, prepare)
            return view(device, data, **kwargs) if body is not None else view(device, **kwargs)

        return wrapper

    return decorate
