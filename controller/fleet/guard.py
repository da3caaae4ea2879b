"""The one authentication guard of the agent API: signed, fresh, never replayed."""

import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from flask import current_app, g, request
from flask_babel import gettext as _
from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from agents.common import signing
from controller.devices.models import Device, DeviceKind, DeviceState
from controller.errors import DomainError
from controller.extensions import db
from controller.fleet.enrollment import device_secret
from controller.fleet.models import AgentNonce
from controller.types import utcnow

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


@cache
def _device_statement():
    columns = (Device.id, Device.office_id, Device.agent_salt, Device.approved,
               Device.agent_seq, Device.state, Device.inventory_hash, Device.kind)  # fmt: skip
    return select(*columns).where(Device.id == bindparam("id"))


def authenticate_device() -> AgentDevice:
    """The device whose valid signature this request carries (401 otherwise)."""
    headers = request.headers
    device_id = headers.get(signing.DEVICE, "")
    stamp = headers.get(signing.TIMESTAMP, "")
    nonce = headers.get(signing.NONCE, "")
    given = headers.get(signing.SIGNATURE, "")
    if not (device_id.isascii() and device_id.isdigit() and stamp.isascii() and stamp.isdigit()):
        raise _refuse(_("The request is not signed."))
    if not (16 <= len(nonce) <= 64 and nonce.isascii() and nonce.isalnum()) or not given:
        raise _refuse(_("The request is not signed."))
    if abs(time.time() - int(stamp)) > signing.MAX_SKEW:
        raise _refuse(_("The request's timestamp is too far from the controller's clock."))
    row = None
    if len(device_id) < 10:
        row = db.session.connection().execute(_device_statement(), {"id": int(device_id)}).first()
    device = AgentDevice(*row) if row is not None else None
    if device is None or device.agent_salt is None:
        raise _refuse(_("Unknown device; enrol the agent again."))
    secret = device_secret(current_app.config["SECRET_KEY"], device)
    body = request.get_data(cache=True)
    expected = signing.request_signature(secret, request.method, request.path, stamp, nonce, body)
    if not signing.same(expected, given):
        raise _refuse(_("Bad signature."))
    _use_nonce(device.id, nonce)
    g.agent_device, g.agent_secret, g.agent_nonce = device, secret, nonce
    if not device.approved:  # the agent keeps its records spooled until then
        raise DomainError(_("The device waits for an IT admin's approval."), status=403,
                          code="awaiting_approval")  # fmt: skip
    return device


def _use_nonce(device_id: int, nonce: str) -> None:
    # The nonce is the request's first write: a replay rolls back nothing else.
    now = utcnow()
    try:
        db.session.connection().execute(
            insert(AgentNonce).values(device_id=device_id, nonce=nonce, seen_at=now)
        )
    except IntegrityError:
        db.session.rollback()
        raise _refuse(_("This request was already received (replayed nonce).")) from None
    if secrets.randbelow(_PURGE_EVERY) == 0:  # keeps the table at about the replay window
        forget = now - timedelta(seconds=2 * signing.MAX_SKEW)
        db.session.execute(
            delete(AgentNonce).where(AgentNonce.device_id == device_id, AgentNonce.seen_at < forget)
        )


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


def agent_view(view: Callable) -> Callable:
    """Views of signed agent verbs get the authenticated device as their first argument."""

    @functools.wraps(view)
    def wrapper(**kwargs):
        return view(authenticate_device(), **kwargs)

    return wrapper
