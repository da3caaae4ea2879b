"""Personal API tokens: random, shown once, stored only as a hash."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from flask_babel import gettext as _
from sqlalchemy import bindparam, select, update

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

    def scope_ids(self) -> frozenset[int]:
        """Ids of the offices the owner is assigned to."""
        return self.office_ids


@cache
def _lookup_statement():
    # One row per office of the owner (or one with no office): token, owner and scope at once.
    return (
        select(ApiToken.id, ApiToken.token_hash, ApiToken.last_used_at, User.id, User.email,
               User.role, User.locale, user_offices.c.office_id)
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
    rows = db.session.connection().execute(_lookup_statement(), {"digest": digest}).all()
    if not rows or not hmac.compare_digest(rows[0].token_hash, digest):
        return None
    token_id, _hash, last_used, user_id, email, role, locale, _office = rows[0]
    offices = frozenset(r.office_id for r in rows if r.office_id is not None)
    principal = Principal(user_id, email, role, locale, offices)
    now = utcnow()
    if last_used is None or now - last_used > _TOUCH_EVERY:
        # written at most once a minute, so reads stay reads
        db.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
        db.session.commit()
    return principal


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
