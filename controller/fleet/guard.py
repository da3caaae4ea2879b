"""The one authentication guard of the agent API: signed, fresh, never replayed."""

import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

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
from controller.fleet.enrollment import device_secret
from controller.fleet.models import AgentNonce
from controller.prepared import Prepared
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
    taken: tuple[int, bool] | None = None  # (ack, inventory wanted) if a quick write took all


class QuickWrite(Protocol):
    """A verb's common request done as one conditional write, with no read of the device.

    `prepare(body)` runs before the write lock and returns what `write` needs, or None when
    the request is not the common one. `write(device_id, salt, prepared)` runs first under
    the lock; it returns the device as written, or None if the row did not qualify (another
    salt, not approved, not online, records already applied…): the full path then runs.
    """

    def prepare(self, body: Any) -> Any: ...

    def write(self, device_id: int, salt: str, prepared: Any) -> "AgentDevice | None": ...


# Each app keeps the secrets of the devices it checked a signature of: id -> (salt, secret).
# A known device's signature is checked without reading its row; the salt is checked under
# the write lock (in the quick write's condition or by reading the row there), so the old
# secret of a re-enrolled device fails, and its new one makes this process read the row.
_SECRETS = "agent_secrets"
_SECRETS_KEPT = 100_000


DEVICE_COLUMNS = (Device.id, Device.office_id, Device.agent_salt, Device.approved,
                  Device.agent_seq, Device.state, Device.inventory_hash, Device.kind)  # fmt: skip
_DEVICE = Prepared(select(*DEVICE_COLUMNS).where(Device.id == bindparam("id")))
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


def authenticate_device(
    model: type[BaseModel] | None = None, quick: QuickWrite | None = None
) -> tuple[AgentDevice, Any]:
    """The device whose valid signature this request carries (401 otherwise), and its body.

    The signature and the body are checked before the write lock is taken; under it, the
    device row is written by `quick` or read again, and every later step sees that row.
    """
    headers = request.headers
    device_id = headers.get(signing.DEVICE, "")
    stamp = headers.get(signing.TIMESTAMP, "")
    nonce = headers.get(signing.NONCE, "")
    given = headers.get(signing.SIGNATURE, "")
    numbers = (device_id, stamp)  # short ASCII digits: int() of 5,000 digits raises
    if not all(0 < len(n) <= 12 and n.isascii() and n.isdigit() for n in numbers):
        raise _refuse(_("The request is not signed."))
    if not (16 <= len(nonce) <= 64 and nonce.isascii() and nonce.isalnum()) or not given:
        raise _refuse(_("The request is not signed."))
    if abs(time.time() - int(stamp)) > signing.MAX_SKEW:
        raise _refuse(_("The request's timestamp is too far from the controller's clock."))
    ident = int(device_id)
    body = request.get_data(cache=True)

    def signed_by(secret: str) -> bool:
        expected = signing.request_signature(secret, request.method, request.path, stamp,
                                             nonce, body)  # fmt: skip
        return signing.same(expected, given)

    remembered = current_app.extensions.setdefault(_SECRETS, {})
    known = remembered.get(ident)
    if known is None or not signed_by(known[1]):
        row = _DEVICE.first({"id": ident}) if ident <= MAX_ID else None
        known = _remember(remembered, AgentDevice(*_row_or_refuse(row)))
        if not signed_by(known[1]):
            raise _refuse(_("Bad signature."))
    salt, secret = known
    data = parse_body(model) if model is not None else None
    prepared = quick.prepare(data) if quick is not None else None
    begin_writing()
    device = quick.write(ident, salt, prepared) if prepared is not None else None
    if device is None:
        device = AgentDevice(*_row_or_refuse(_DEVICE_TO_WRITE.first({"id": ident})))
        if device.agent_salt != salt:  # enrolled again since it was read: the new secret
            salt, secret = _remember(remembered, device)
            if not signed_by(secret):
                raise _refuse(_("Bad signature."))
    _use_nonce(device.id, nonce)
    g.agent_device, g.agent_secret, g.agent_nonce = device, secret, nonce
    if not device.approved:  # the agent keeps its records spooled until then
        raise DomainError(_("The device waits for an IT admin's approval."), status=403,
                          code="awaiting_approval")  # fmt: skip
    return device, data


def _row_or_refuse(row):
    if row is None or row[2] is None:  # no such device, or no agent enrolled on it
        raise _refuse(_("Unknown device; enrol the agent again."))
    return row


def _remember(remembered: dict, device: AgentDevice) -> tuple[str, str]:
    """(salt, secret) of the device, kept for the next requests this app serves."""
    if len(remembered) >= _SECRETS_KEPT:
        remembered.clear()
    known = remembered[device.id] = (
        device.agent_salt, device_secret(current_app.config["SECRET_KEY"], device)
    )  # fmt: skip
    return known


def _use_nonce(device_id: int, nonce: str) -> None:
    # A replay is refused and its whole transaction rolled back (a quick write's too).
    now = utcnow()
    try:
        _NONCE.execute({"device_id": device_id, "nonce": nonce, "seen_at": now})
    except IntegrityError:
        db.session.rollback()
        raise _refuse(_("This request was already received (replayed nonce).")) from None
    if secrets.randbelow(_PURGE_EVERY) == 0:  # keeps the table at about the replay window
        forget = now - timedelta(seconds=2 * signing.MAX_SKEW)
        _OLD_NONCES.execute({"device_id": device_id, "before": forget})


def signed_answer(response):
    """Stamp the controller's identity on every agent API answer, and sign it when possible."""
    response.headers[signing.CONTROLLER] = current_app.config["CONTROLLER_ID"]
    secret, nonce = g.get("agent_secret"), g.get("agent_nonce")
    if secret and nonce:
        body = response.get_data()
        response.headers[signing.SIGNATURE] = signing.answer_signature(
            secret, nonce, response.status_code, body
        )
    return response


def agent_view(body: type[BaseModel] | None = None, quick: QuickWrite | None = None) -> Callable:
    """Views of signed verbs get the authenticated device (and the body parsed by body)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(**kwargs):
            device, data = authenticate_device(body, quick)
            return view(device, data, **kwargs) if body is not None else view(device, **kwargs)

        return wrapper

    return decorate
