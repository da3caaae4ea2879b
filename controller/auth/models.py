"""Staff accounts and their API tokens."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from controller.auth.roles import Grants, Role
from controller.extensions import db
from controller.offices.models import Office, enum_column
from controller.types import UTCDateTime, utcnow

user_offices = Table(
    "user_offices",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("office_id", ForeignKey("offices.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, Grants, db.Model):
    """A member of staff who signs in to the controller."""

    __tablename__ = "users"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str] = mapped_column(String(5), default="pl")
    last_login: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of the sign-in cookie: bumping it ends every session of the account.
    session_epoch: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    offices: Mapped[list[Office]] = relationship(
        secondary=user_offices, lazy="selectin", order_by=Office.name
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def scope_ids(self) -> frozenset[int]:
        """Ids of the offices the account is assigned to."""
        return frozenset(o.id for o in self.offices)

    def get_id(self) -> str:
        """Session identity: the id and the current epoch (see end_sessions)."""
        return f"{self.id}.{self.session_epoch}"

    def end_sessions(self) -> None:
        """Make every existing sign-in of this account invalid."""
        self.session_epoch += 1

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email!r}>"


class ApiToken(db.Model):
    """A named bearer token acting with its owner's role and scope."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    @property
    def revoked(self) -> bool:
        """Whether the token has been revoked."""
        return self.revoked_at is not None
