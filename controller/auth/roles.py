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
        _READ
        | {Perm.DEVICES_WRITE, Perm.COMMANDS_RUN, Perm.PORTAL_MANAGE, Perm.AUDIT_READ}
        | {Perm.REPORTS_READ}
    ),
    Role.COORDINATOR: frozenset(_READ | {Perm.REPORTS_READ}),
    Role.VIEWER: frozenset(_READ),
}


def role_allows(role: Role, perm: Perm) -> bool:
    """Whether a role carries a permission."""
    return perm in ROLE_PERMS[role]


class Grants:
    """What a role and an office scope allow; shared by accounts and token principals."""

    role: Role

    def scope_ids(self) -> frozenset[int]:
        """Ids of the offices the holder is assigned to (empty: none assigned)."""
        raise NotImplementedError

    def can(self, perm: Perm) -> bool:
        """Whether the role grants a permission."""
        return role_allows(self.role, perm)

    def office_scope(self) -> frozenset[int] | None:
        """Office ids the holder is limited to, or None for every office."""
        ids = self.scope_ids()
        return None if self.role is Role.ADMIN or not ids else ids
