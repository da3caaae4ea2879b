"""Recording changes in the audit log, in the same transaction as the change itself."""

from dataclasses import dataclass
from typing import Any

from controller.audit.models import AuditLog
from controller.extensions import db


@dataclass(frozen=True)
class Actor:
    """Who is acting, through which channel, from which address."""

    user: Any  # controller.auth.models.User, or None for the system
    via: str  # "ui", "api" or "cli"
    remote_addr: str = ""

    @classmethod
    def for_request(cls, user: Any, via: str) -> "Actor":
        """The user acting in the current request (web UI or API)."""
        from flask import request

        return cls(user, via, request.remote_addr or "")

    @property
    def label(self) -> str:
        """Name written into the log, kept even if the account is removed."""
        return self.user.email if self.user is not None else f"system ({self.via})"


def record(
    actor: Actor,
    action: str,
    obj: Any,
    *,
    office_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
    label: str | None = None,
    object_type: str | None = None,
) -> AuditLog:
    """Add an audit entry to the session; it commits or rolls back with the change."""
    entry = AuditLog(
        actor_id=actor.user.id if actor.user is not None else None,
        actor=actor.label,
        via=actor.via,
        remote_addr=actor.remote_addr[:45],
        action=action,
        object_type=object_type or type(obj).__name__.lower(),
        object_id=getattr(obj, "id", None),
        object_label=(label if label is not None else str(getattr(obj, "name", "")))[:200],
        office_id=office_id,
        before=before,
        after=after,
    )
    db.session.add(entry)
    return entry


def changes(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}
