"""Personal API tokens: random, shown once, stored only as a hash."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from flask_babel import gettext as _
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import OperationalError

from controller.audit.service import Actor, record
from controller.auth.models import ApiToken, User, user_offices
from controller.auth.roles import Grants, Role
from controller.errors import Invalid, NotFound
from controller.extensions import db
from controller.types import utcnow

PREFIX = "tc_"
_TOUCH_EVERY = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(actor: Actor, owner, name: str) -> tuple[ApiToken, str]:
    """Make a token for owner; returns the row and the only copy of the secret."""
    name = name.strip()
    if not name or len(name) > 100:
        raise Invalid(
            _("The token was not created."), {"name": _("Give a name of 1–100 characters.")}
        )
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=owner.id, name=name, token_hash=_digest(secret), prefix=secret[:10])
    db.session.add(token)
    db.session.flush()
    record(actor, "token.create", token, after={"name": name, "owner": owner.email})
    db.session.commit()
    return token, secret


@dataclass(frozen=True)
class Principal(Grants):
    """The owner of a token as one API request needs it (read in two small queries)."""

    id: int
    email: str
    role: Role
    locale: str
    office_ids: frozenset[int]
    token_id: int
    last_used: datetime | None

    def scope_ids(self) -> frozenset[int]:
        """Ids of the offices the owner is assigned to."""
        return self.office_ids


@cache
def _lookup_statement():
    # One row per office of the owner (or one with no office): token, owner and scope at once.
    return (
        select(ApiToken.id, ApiToken.last_used_at, User.id, User.email, User.role, User.locale,
               user_offices.c.office_id)
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(user_offices, user_offices.c.user_id == User.id)
        .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None),
               User.active.is_(True))
    )  # fmt: skip


def authenticate(secret: str) -> Principal | None:
    """The active owner of a valid, unrevoked token, or None."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    digest = _digest(secret)
    # Looked up by the SHA-256 of a 256-bit random secret: the digest reveals nothing to time.
    rows = db.session.connection().execute(_lookup_statement(), {"digest": digest}).all()
    if not rows:
        return None
    token_id, last_used, user_id, email, role, locale, _office = rows[0]
    offices = frozenset(r.office_id for r in rows if r.office_id is not None)
    return Principal(user_id, email, role, locale, offices, token_id, last_used)


def touch(principal: Principal) -> None:
    """Note the token's use, at most once a minute, after the request's own work is done."""
    now = utcnow()
    if principal.last_used is not None and now - principal.last_used <= _TOUCH_EVERY:
        return
    db.session.rollback()  # end the request's read transaction; its writes are committed
    try:
        stmt = update(ApiToken).where(ApiToken.id == principal.token_id)
        db.session.execute(stmt.values(last_used_at=now))
        db.session.commit()
    except OperationalError:  # database busy: the next request records it
        db.session.rollback()


def tokens_of(user: User) -> list[ApiToken]:
    """A user's tokens, newest first."""
    stmt = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    return list(db.session.scalars(stmt))


def revoke_token(actor: Actor, token_id: int) -> ApiToken:
    """Revoke one of the actor's tokens (an admin may revoke anyone's)."""
    token = db.session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.user.id and actor.user.role != "admin"):
        raise NotFound(_("No such token."))
    if not token.revoked:
        token.revoked_at = utcnow()
        record(actor, "token.revoke", token, after={"owner": token.user.email})
        db.session.commit()
    return token
