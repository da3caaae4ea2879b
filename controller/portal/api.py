"""The portal API for gateways, /api/portal/v1: signed like the agent API, gateways only."""

import functools
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify
from flask_babel import gettext as _
from sqlalchemy import select

from controller.api.core import OPERATIONS, Operation
from controller.devices.models import DeviceKind
from controller.errors import DomainError
from controller.extensions import csrf, db, limiter
from controller.fleet.guard import authenticate_device, signed_answer
from controller.offices.models import Office
from controller.portal import policies, sessions, vouchers
from controller.portal.policy import COUNTY_ZONE
from controller.portal.schemas import Ended, EndIn, GrantOut, StartIn, SyncIn, SyncOut
from controller.types import utcnow

bp = Blueprint("portal_api", __name__, url_prefix="/api/portal/v1")
csrf.exempt(bp)  # gateways sign their requests; no browser session is involved
limiter.exempt(bp)  # wrong codes are limited per visitor in sessions.start
bp.after_request(signed_answer)


def gateway_view(model):
    """Signed verbs for gateways only (others are refused with 403), with the parsed body."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(**kwargs):
            device, data = authenticate_device(model)
            if device.kind != DeviceKind.GATEWAY:
                raise DomainError(_("Only gateways may use the portal API."), status=403,
                                  code="not_a_gateway")  # fmt: skip
            return view(device, data, **kwargs)

        return wrapper

    return decorate


def _key() -> str:
    return vouchers.current_key()


@bp.post("/sync")
@gateway_view(SyncIn)
def sync(device, data: SyncIn):
    """The office's policy and usable vouchers (null when the gateway's copy is current)."""
    now = utcnow()
    zone = db.session.scalar(select(Office.timezone).where(Office.id == device.office_id))
    policy = policies.contract(policies.effective(device.office_id), zone)
    usable = vouchers.usable(device.office_id, now)
    policy_version, vouchers_version = policies.version(policy), policies.version(usable)
    policy_current = data.policy_version == policy_version  # each part is sent when it changed
    vouchers_current = data.vouchers_version == vouchers_version
    year = now.astimezone(ZoneInfo(COUNTY_ZONE)).year  # the reporting year
    answer = SyncOut(
        office_id=device.office_id, policy_version=policy_version,
        policy=None if policy_current else policy, vouchers_version=vouchers_version,
        vouchers=None if vouchers_current else usable, voucher_key=_key(),
        pseudonym_salt=sessions.salt(year), controller_time=now,
    )  # fmt: skip
    db.session.commit()
    return jsonify(answer.model_dump(mode="json"))


@bp.post("/sessions")
@gateway_view(StartIn)
def start_session(device, data: StartIn):
    """Start a visitor's session: a grant, or 403 with the reason for the visitor."""
    grant = GrantOut(**sessions.start(device, data, _key()))
    return jsonify(grant.model_dump(mode="json"))


@bp.post("/sessions/<session_id>/end")
@gateway_view(EndIn)
def end_session(device, data: EndIn, session_id: str):
    """The gateway ended a session (idempotent)."""
    if not 32 <= len(session_id) <= 36:
        raise DomainError(_("Not found."), status=404, code="not_found")
    return jsonify(Ended(**sessions.end(device, session_id, data)).model_dump(mode="json"))


def _document(rule, name, summary, body, response, errors) -> None:
    OPERATIONS.append(
        Operation(rule, "POST", name, summary, "portal", None, None, body, response, 200,
                  list(errors), "/api/portal/v1", "agentSignature")
    )  # fmt: skip


_document("/sync", "portal_sync", "Policy and voucher hashes for offline use", SyncIn, SyncOut,
          (401, 403, 413, 415, 422))  # fmt: skip
_document("/sessions", "portal_start_session", "Start a visitor session", StartIn, GrantOut,
          (401, 403, 409, 413, 415, 422, 429))  # fmt: skip
_document("/sessions/<session_id>/end", "portal_end_session", "End a visitor session", EndIn,
          Ended, (401, 403, 404, 413, 415, 422))  # fmt: skip
