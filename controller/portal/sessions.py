"""Visitor sessions: starting with a grant, ending, and the gateways' accounting records."""

import secrets
from datetime import datetime, timedelta

from flask import g
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from agents.common.contract import voucher_hash
from controller.errors import Conflict, DomainError, NotFound
from controller.extensions import db
from controller.offices.models import Office
from controller.portal import policies, vouchers
from controller.portal.models import (
    PortalAttempt,
    PortalSession,
    PseudonymSalt,
    Voucher,
    VoucherBatch,
)
from controller.portal.policy import (
    Allowance,
    Refused,
    Used,
    compute_grant,
    day_bounds,
    used_seconds,
)
from controller.portal.schemas import EndIn, SessionRecord, StartIn
from controller.types import utcnow

ATTEMPTS, WINDOW = 5, timedelta(minutes=10)  # wrong codes per pseudonym before 429
REFUSALS = {
    "voucher_unknown": _l("This code is not valid. Check it and type it again."),
    "voucher_used_up": _l("This voucher has been used up."),
    "voucher_expired": _l("This voucher is no longer valid."),
    "voucher_devices": _l("This voucher is already used on as many devices as it allows."),
    "daily_quota_reached": _l("You have used today's internet time here. Come back tomorrow."),
    "outside_opening_hours": _l("The hotspot is closed now. Come back during opening hours."),
    "method_not_allowed": _l("This way of logging in is not offered here."),
    "terms_not_accepted": _l("Please accept the terms of use to go online."),
    "too_many_attempts": _l("Too many wrong codes. Please wait ten minutes and try again."),
}


def refusal(code: str, language: str, status: int = 403) -> DomainError:
    """The refusal a visitor sees, in their language (counted as a refused login)."""
    with force_locale(language):
        message = str(REFUSALS[code])
    g.portal_refused = True
    return DomainError(message, status=status, code=code)


def salt(year: int) -> str:
    """The pseudonym salt of a reporting year, made the first time it is needed."""
    found = db.session.get(PseudonymSalt, year)
    if found is not None:
        return found.salt
    try:
        with db.session.begin_nested():
            db.session.add(PseudonymSalt(year=year, salt=secrets.token_hex(32)))
    except IntegrityError:  # another request made it first
        pass
    return db.session.get(PseudonymSalt, year).salt


def daily_use(pseudonym: str, now: datetime) -> Used:
    """What a visitor used today (county day) across every office."""
    start, _end = day_bounds(now)
    rows = db.session.execute(
        select(PortalSession.started_at, PortalSession.ended_at, PortalSession.granted_seconds,
               PortalSession.bytes_down + PortalSession.bytes_up)
        .where(PortalSession.pseudonym == pseudonym,
               func.coalesce(PortalSession.ended_at, now) > start)
    ).all()  # fmt: skip
    seconds = sum(used_seconds(s, e, g, now, since=start) for s, e, g, _b in rows)
    return Used(seconds=seconds, bytes=sum(b or 0 for *_r, b in rows))


def _grant_answer(session: PortalSession) -> dict:
    return {"session_id": session.session_id, "seconds": session.granted_seconds,
            "bytes": session.granted_bytes, "rate_down_kbit": session.rate_down_kbit,
            "rate_up_kbit": session.rate_up_kbit,
            "idle_timeout_seconds": session.idle_timeout_seconds,
            "expires_at": session.expires_at}  # fmt: skip


def _too_many(pseudonym: str, now: datetime) -> bool:
    stmt = select(func.count()).where(PortalAttempt.pseudonym == pseudonym,
                                      PortalAttempt.at > now - WINDOW)  # fmt: skip
    return (db.session.scalar(stmt) or 0) >= ATTEMPTS


def _wrong_code(pseudonym: str, now: datetime, language: str) -> DomainError:
    """Count a wrong code (committed even though the start is refused)."""
    db.session.execute(delete(PortalAttempt).where(PortalAttempt.at < now - WINDOW))
    db.session.add(PortalAttempt(pseudonym=pseudonym, at=now))
    db.session.commit()
    return refusal("voucher_unknown", language)


def find_voucher(office_id: int, code_or_hash: str, key: str | None):
    """The office's voucher with this code (key given) or hash, with its batch."""
    digest = voucher_hash(key, code_or_hash) if key else code_or_hash
    return db.session.execute(
        select(Voucher, VoucherBatch).join(VoucherBatch, VoucherBatch.id == Voucher.batch_id)
        .where(Voucher.code_hash == digest, Voucher.office_id == office_id)
    ).first()  # fmt: skip


def _voucher_allowance(found, data: StartIn, now: datetime) -> Allowance:
    voucher, batch = found
    if batch.revoked_at is not None or batch.valid_until <= now:
        raise Refused("voucher_expired")
    use = vouchers.uses([voucher.id], now).get(voucher.id, vouchers.Use())
    if data.pseudonym not in use.pseudonyms and len(use.pseudonyms) >= batch.max_devices:
        raise Refused("voucher_devices")
    seconds, data_left = vouchers.left(batch, use)
    return Allowance(seconds=seconds, bytes=data_left)


def _started(session_id: str) -> PortalSession | None:
    return db.session.scalar(select(PortalSession).where(PortalSession.session_id == session_id))


def _repeated(device, session_id: str) -> dict | None:
    """The grant of a start sent again (None when new); 409 for another's session id."""
    existing = _started(session_id)
    if existing is None:
        return None
    if existing.device_id != device.id or existing.idle_timeout_seconds is None:
        raise Conflict("This session id is taken.", code="session_exists")
    return _grant_answer(existing)  # the same start sent again: the same grant


def start(device, data: StartIn, key: str) -> dict:
    """Grant a session to a visitor at the gateway's office, or refuse with a reason."""
    now = utcnow()
    repeated = _repeated(device, data.session_id)
    if repeated is not None:
        return repeated
    policy = policies.effective(device.office_id)
    zone = db.session.scalar(select(Office.timezone).where(Office.id == device.office_id))
    allowance, found = None, None
    try:
        if data.method not in policy.methods:
            raise Refused("method_not_allowed")
        if data.method == "click" and not data.terms_accepted:
            raise Refused("terms_not_accepted")
        if data.method == "voucher":
            if _too_many(data.pseudonym, now):
                raise refusal("too_many_attempts", data.language, status=429)
            found = find_voucher(device.office_id, data.code or "", key) if data.code else None
            if found is None:
                raise _wrong_code(data.pseudonym, now, data.language)
            allowance = _voucher_allowance(found, data, now)
        grant = compute_grant(policies.limits(policy, zone), daily_use(data.pseudonym, now), now,
                              allowance)  # fmt: skip
    except Refused as exc:
        raise refusal(exc.code, data.language) from None
    session = PortalSession(
        session_id=data.session_id, office_id=device.office_id, device_id=device.id,
        pseudonym=data.pseudonym, method=data.method, voucher_id=found[0].id if found else None,
        started_at=now, granted_seconds=grant.seconds, granted_bytes=grant.bytes,
        rate_down_kbit=policy.rate_down_kbit, rate_up_kbit=policy.rate_up_kbit,
        idle_timeout_seconds=policy.idle_timeout_seconds,
    )  # fmt: skip
    if found is not None and found[0].first_used_at is None:
        found[0].first_used_at = now
    db.session.add(session)
    try:
        db.session.commit()
    except IntegrityError:  # the same start, sent twice at once, committed by the other
        db.session.rollback()
        repeated = _repeated(device, data.session_id)
        if repeated is None:
            raise
        return repeated
    return _grant_answer(session)


def _gateway_session(device, session_id: str) -> PortalSession | None:
    session = db.session.scalar(select(PortalSession).where(PortalSession.session_id == session_id))
    return session if session is not None and session.office_id == device.office_id else None


def _close(session: PortalSession, ended_at, reason, down: int, up: int) -> None:
    now = utcnow()
    ended = min(ended_at or now, now)
    session.ended_at = max(ended, session.started_at)
    session.end_reason = reason
    session.bytes_down, session.bytes_up = max(session.bytes_down, down), max(session.bytes_up, up)


def end(device, session_id: str, data: EndIn) -> dict:
    """The gateway ended a session; ending it again changes nothing."""
    session = _gateway_session(device, session_id)
    if session is None:
        raise NotFound("No such session at this office.")
    if session.ended_at is None:
        _close(session, data.ended_at, data.reason, data.bytes_down, data.bytes_up)
        db.session.commit()
    return {"session_id": session.session_id, "ended": True}


def apply_record(device, record: SessionRecord) -> None:
    """Upsert a session from a gateway's spooled record (not committed here)."""
    session = db.session.scalar(
        select(PortalSession).where(PortalSession.session_id == record.session_id)
    )
    if session is not None and session.office_id != device.office_id:
        return  # another office's session id: nothing of this gateway's to change
    if session is None:
        voucher = None
        if record.voucher_hash:
            voucher = find_voucher(device.office_id, record.voucher_hash, None)
        session = PortalSession(
            session_id=record.session_id, office_id=device.office_id, device_id=device.id,
            pseudonym=record.pseudonym, method=record.method, offline=record.offline,
            voucher_id=voucher[0].id if voucher else None,
            started_at=min(record.started_at, utcnow()), bytes_down=0, bytes_up=0,
            # not granted here: the session length bounds what it counts if its end is lost
            granted_seconds=policies.effective(device.office_id).session_seconds,
        )  # fmt: skip
        if voucher is not None and voucher[0].first_used_at is None:
            voucher[0].first_used_at = session.started_at
        db.session.add(session)
    if session.ended_at is not None:
        return  # the end arrived already; a repeat changes nothing
    if record.event == "end":
        _close(session, record.ended_at, record.end_reason or "logout", record.bytes_down,
               record.bytes_up)  # fmt: skip
    else:
        session.bytes_down = max(session.bytes_down or 0, record.bytes_down)
        session.bytes_up = max(session.bytes_up or 0, record.bytes_up)
        session.last_update_at = utcnow()
    db.session.flush()
