"""Staff roles and what each may do."""

from enum import StrEnum


class Role(StrEnum):
    """A staff member's role; office scope narrows it further."""

    ADMIN = "admin"
    IT_ADMIN = "it_admin"
    COORDINATOR = "coordinator"
    VIEWER = "viewer"


class Perm(StrEnum):
    """A permission checked by views and API endpoints."""

    INVENTORY_READ = "inventory.read"
    DEVICES_WRITE = "devices.write"
    OFFICES_WRITE = "offices.write"
    USERS_MANAGE = "users.manage"
    AUDIT_READ = "audit.read"
    REPORTS_READ = "reports.read"
    COMMANDS_RUN = "commands.run"
    PORTAL_MANAGE = "portal.manage"


_READ = {Perm.INVENTORY_READ}

ROLE_PERMS: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: frozenset(Perm),
    Role.IT_ADMIN: frozenset(
        _READ | {Perm.DEVICES_WRITE, Perm.COMMANDS_RUN, Perm.PORTAL_MANAGE, Perm.AUDIT_READ}
    ),
    Role.COORDINATOR: frozenset(_READ | {Perm.REPORTS_READ}),
    Role.VIEWER: frozenset(_READ),
}


def role_allows(role: Role, perm: Perm) -> bool:
    """Whether a role carries a permission."""
    return perm in ROLE_PERMS[role]
