"""Personal API tokens: random, shown once, stored only as a hash."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from controller.audit.service import Actor, record
from controller.auth.models import ApiToken, User
from controller.errors import Invalid, NotFound
from controller.extensions import db
from controller.types import utcnow

PREFIX = "tc_"
_TOUCH_EVERY = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(actor: Actor, owner: User, name: str) -> tuple[ApiToken, str]:
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


def authenticate(secret: str) -> User | None:
    """The active owner of a valid, unrevoked token, or None."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    digest = _digest(secret)
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or token.revoked or not token.user.active:
        return None
    if not hmac.compare_digest(token.token_hash, digest):
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY:
        token.last_used_at = now  # written at most once a minute to keep reads cheap
        db.session.commit()
    return token.user


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
