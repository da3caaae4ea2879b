"""Vouchers: strong codes easy to type, stored only as keyed hashes; their use."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from agents.common.contract import voucher_hash
from controller.audit.service import Actor, record
from controller.auth.scope import get_visible, in_scope
from controller.errors import Conflict
from controller.extensions import db
from controller.offices.models import Office
from controller.pagination import Paged, paginate
from controller.portal import policies
from controller.portal.models import PortalSession, Voucher, VoucherBatch
from controller.portal.policy import MB, used_seconds
from controller.portal.schemas import BatchCreate, BatchQuery
from controller.types import utcnow

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0 O 1 l I: nothing to confuse
LENGTH = 10  # 31^10 ≈ 8·10^14 codes


def new_code() -> str:
    """A random voucher code as printed: XXXXX-XXXXX."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def voucher_key(instance_secret: str) -> str:
    """The key of voucher hashes, derived from the instance secret (hex)."""
    return hmac.new(instance_secret.encode(), b"voucher-key", hashlib.sha256).hexdigest()


def current_key() -> str:
    """This controller's voucher key."""
    return voucher_key(current_app.config["SECRET_KEY"])


def create_batch(actor: Actor, office: Office, data: BatchCreate, key_hex: str):
    """Make a batch; returns (batch, plain codes) — the codes exist only in this answer."""
    batch = VoucherBatch(
        office_id=office.id, count=data.count, seconds=data.minutes * 60,
        bytes=data.megabytes * MB if data.megabytes else None,
        max_devices=data.max_devices or policies.effective(office.id).devices_per_voucher,
        multi_use=data.multi_use, valid_until=utcnow() + timedelta(days=data.valid_days),
        note=data.note, created_by=actor.label,
    )  # fmt: skip
    db.session.add(batch)
    db.session.flush()
    codes = [new_code() for _ in range(data.count)]
    db.session.add_all(
        Voucher(batch_id=batch.id, office_id=office.id, code_hash=voucher_hash(key_hex, c))
        for c in codes
    )
    record(actor, "voucher_batch.create", batch, office_id=office.id, label=office.name,
           after=data.model_dump(exclude={"office_id"}))  # fmt: skip
    db.session.commit()
    return batch, codes


def revoke_batch(actor: Actor, batch: VoucherBatch) -> VoucherBatch:
    """Make every voucher of the batch unusable from now on."""
    if batch.revoked_at is not None:
        raise Conflict(_("The batch was revoked already."))
    batch.revoked_at = utcnow()
    record(actor, "voucher_batch.revoke", batch, office_id=batch.office_id,
           label=f"#{batch.id}", after={"revoked": True})  # fmt: skip
    db.session.commit()
    return batch


def get_batch(user, batch_id: int) -> VoucherBatch:
    """A batch of the user's offices (NotFound otherwise)."""
    return get_visible(user, VoucherBatch, batch_id, _("No such voucher batch."))


def list_batches(user, query: BatchQuery) -> Paged:
    """Batches of the user's offices, newest first."""
    stmt = select(VoucherBatch).where(in_scope(user, VoucherBatch.office_id))
    if query.office_id:
        stmt = stmt.where(VoucherBatch.office_id == query.office_id)
    return paginate(stmt.order_by(VoucherBatch.id.desc()), query.page, query.per_page)


def codes_of_batch(batch: VoucherBatch, codes: list[str], key_hex: str) -> list[str]:
    """The given codes that belong to the batch (to print a sheet right after creation)."""
    hashes = set(db.session.scalars(select(Voucher.code_hash).where(Voucher.batch_id == batch.id)))
    return [c for c in codes if voucher_hash(key_hex, c) in hashes]


@dataclass
class Use:
    """What a voucher's sessions have used so far."""

    sessions: int = 0
    seconds: int = 0
    bytes: int = 0
    pseudonyms: frozenset[str] = frozenset()
    ended: bool = False
    live: bool = False


def uses(voucher_ids: list[int], now: datetime) -> dict[int, Use]:
    """Use per voucher, from its sessions."""
    out: dict[int, Use] = {}
    if not voucher_ids:
        return out
    rows = db.session.execute(
        select(PortalSession.voucher_id, PortalSession.pseudonym, PortalSession.started_at,
               PortalSession.ended_at, PortalSession.granted_seconds,
               PortalSession.bytes_down + PortalSession.bytes_up)
        .where(PortalSession.voucher_id.in_(voucher_ids))
    )  # fmt: skip
    for vid, pseudonym, started, ended, granted, data in rows:
        use = out.setdefault(vid, Use())
        use.sessions += 1
        use.seconds += used_seconds(started, ended, granted, now)
        use.bytes += data or 0
        use.pseudonyms = use.pseudonyms | {pseudonym}
        use.ended = use.ended or ended is not None
        use.live = use.live or ended is None
    return out


def left(batch: VoucherBatch, use: Use) -> tuple[int, int | None]:
    """Seconds and bytes (None: no cap) a voucher has left."""
    if not batch.multi_use and use.ended:
        return 0, 0
    data = None if batch.bytes is None else max(0, batch.bytes - use.bytes)
    return max(0, batch.seconds - use.seconds), data


def state(batch: VoucherBatch, use: Use, now: datetime) -> str:
    """unused, in_use, used_up, expired or revoked."""
    if batch.revoked_at is not None:
        return "revoked"
    seconds, data = left(batch, use)
    if use.sessions and (seconds <= 0 or data == 0):
        return "used_up"
    if batch.valid_until <= now:
        return "expired"
    return "in_use" if use.sessions else "unused"


def usable(office_id: int, now: datetime) -> list[dict]:
    """The office's vouchers that can still be used, as gateways cache them."""
    rows = db.session.execute(
        select(Voucher, VoucherBatch).join(VoucherBatch, VoucherBatch.id == Voucher.batch_id)
        .where(Voucher.office_id == office_id, VoucherBatch.revoked_at.is_(None),
               VoucherBatch.valid_until > now)
        .order_by(Voucher.id)
    ).all()  # fmt: skip
    used = uses([v.id for v, _b in rows], now)
    out = []
    for voucher, batch in rows:
        seconds, data = left(batch, used.get(voucher.id, Use()))
        if seconds > 0 and data != 0:
            out.append({"hash": voucher.code_hash, "seconds": seconds, "bytes": data,
                        "max_devices": batch.max_devices, "multi_use": batch.multi_use,
                        "valid_until": batch.valid_until.isoformat()})  # fmt: skip
    return out


def batch_vouchers(batch: VoucherBatch) -> list[dict]:
    """Each voucher of a batch with its use (for the batch page and API)."""
    now = utcnow()
    vouchers = list(db.session.scalars(
        select(Voucher).where(Voucher.batch_id == batch.id).order_by(Voucher.id)
    ))  # fmt: skip
    used = uses([v.id for v in vouchers], now)
    out = []
    for v in vouchers:
        use = used.get(v.id, Use())
        out.append({"id": v.id, "hash_prefix": v.code_hash[:8], "state": state(batch, use, now),
                    "sessions": use.sessions, "devices": len(use.pseudonyms),
                    "seconds_used": use.seconds, "bytes_used": use.bytes,
                    "first_used_at": v.first_used_at})  # fmt: skip
    return out


def counts(batch_ids: list[int]) -> dict[int, int]:
    """Vouchers of each batch that have been used at least once."""
    rows = db.session.execute(
        select(Voucher.batch_id, func.count()).where(Voucher.batch_id.in_(batch_ids),
                                                     Voucher.first_used_at.is_not(None))
        .group_by(Voucher.batch_id)
    )  # fmt: skip
    return dict(rows.all())
