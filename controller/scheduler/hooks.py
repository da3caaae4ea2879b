"""Hooks other features register: the monthly report snapshot is filled by the reports."""

from collections.abc import Callable
from datetime import datetime

# fn(scheduled_for, office_id) -> a short summary of what was stored
SnapshotHook = Callable[[datetime, int | None], str]
_SNAPSHOT_HOOKS: list[SnapshotHook] = []


def register_snapshot_hook(fn: SnapshotHook) -> SnapshotHook:
    """Have report_snapshot schedules call fn (usable as a decorator; registered once)."""
    if fn not in _SNAPSHOT_HOOKS:
        _SNAPSHOT_HOOKS.append(fn)
    return fn


def snapshot_hooks() -> list[SnapshotHook]:
    """The registered snapshot hooks, in registration order."""
    return list(_SNAPSHOT_HOOKS)
