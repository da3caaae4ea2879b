"""The one authentication guard of the agent API: signed, fresh, never replayed."""

import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple

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


_SALT = Prepared(select(Device.agent_salt).where(Device.id == bindparam("id")))
# The device under the write lock (a row lock on PostgreSQL), and whether commands wait.
_DEVICE_TO_WRITE = Prepared(
    select(Device.id, Device.office_id, Device.agent_salt, Device.approved, Device.agent_seq,
           Device.state, Device.inventory_hash, Device.kind, commands.any_open(Device.id))
    .where(Device.id == bindparam("id")).with_for_update()
)  # fmt: skip
# Device id → the salt its last accepted request was signed with, in this process: a request
# signed with it needs no read before the write lock, where `lock` checks the row still has it.
_SALTS: dict[int, str] = {}
_SALTS_KEPT = 1 << 17  # devices remembered at most (then forgotten all at once)
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


class Signature(NamedTuple):
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
) -> tuple[str, str]:
    """(salt, secret) of the device whose signature over this method, path, timestamp, nonce
    and body the request carries; 401 otherwise. Checked without the write lock: against the
    salt remembered from the device's last accepted request, else the device row's."""
    s = signature

    def signed_with(salt: str) -> str | None:
        secret = salted_secret(instance_secret, s.device_id, salt)
        expected = signing.request_signature(secret, method, path, s.stamp, s.nonce, body)
        return secret if signing.same(expected, s.given) else None

    salt = _SALTS.get(s.device_id)
    secret = signed_with(salt) if salt is not None else None
    if secret is None:
        row = _SALT.first({"id": s.device_id}, target)
        salt = row[0] if row is not None else None
        if salt is None:
            raise _refuse(_("Unknown device; enrol the agent again."))
        secret = signed_with(salt)
        if secret is None:
            raise _refuse(_("Bad signature."))
    return salt, secret


def lock(device_id: int, nonce: str, salt: str, target: Target | None = None) -> AgentDevice:
    """The device row read under the write lock (which the caller took), with whether commands
    wait; 401 unless it still has the salt the request was verified with, or if the nonce was
    seen before. The nonce is used up."""
    row = _DEVICE_TO_WRITE.first({"id": device_id}, target)
    device = AgentDevice(*row) if row is not None else None
    if device is None or device.agent_salt != salt:
        if _SALTS.get(device_id) == salt:
            del _SALTS[device_id]  # its next requests read the row before the lock again
        if device is None or device.agent_salt is None:
            raise _refuse(_("Unknown device; enrol the agent again."))
        raise _refuse(_("Bad signature."))  # enrolled again since: signed with the old secret
    _use_nonce(device_id, nonce, target)
    if len(_SALTS) >= _SALTS_KEPT:
        _SALTS.clear()
    _SALTS[device_id] = salt
    return device


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
    salt, secret = verify(signature, request.method, request.path, body,
                          current_app.config["SECRET_KEY"])  # fmt: skip
    data = parse_body(model) if model is not None else None
    if prepare is not None:
        data = prepare(data)
    begin_writing()
    try:
        device = lock(signature.device_id, signature.nonce, salt)
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
