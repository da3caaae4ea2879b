"""Translated names of the enum values shown in pages."""

from flask import Flask
from flask_babel import format_decimal, get_locale
from flask_babel import lazy_gettext as _l

from controller.auth.roles import Role
from controller.devices.models import DeviceKind, DeviceState, Management
from controller.fleet.models import CommandKind, CommandState
from controller.offices.models import OfficeType
from controller.scheduler.models import Outcome, ScheduleKind
from controller.ssh.models import HostState, JobState, SshAuth

LABELS = {
    OfficeType: {
        OfficeType.STAROSTWO: _l("County office (starostwo)"),
        OfficeType.URZAD_MIEJSKI: _l("Town office (urząd miejski)"),
        OfficeType.URZAD_GMINY: _l("Gmina office (urząd gminy)"),
        OfficeType.OTHER: _l("Other"),
    },
    DeviceKind: {
        DeviceKind.PC: _l("Telecentre PC"),
        DeviceKind.INFOMAT: _l("Infomat"),
        DeviceKind.HOTSPOT: _l("Hotspot"),
        DeviceKind.GATEWAY: _l("Gateway"),
        DeviceKind.OTHER: _l("Other"),
    },
    DeviceState: {
        DeviceState.UNKNOWN: _l("Unknown"),
        DeviceState.ONLINE: _l("Online"),
        DeviceState.OFFLINE: _l("Offline"),
        DeviceState.MAINTENANCE: _l("Maintenance"),
        DeviceState.RETIRED: _l("Retired"),
    },
    Management: {
        Management.AGENT: _l("Agent"),
        Management.SSH: _l("SSH"),
        Management.NONE: _l("Not managed"),
    },
    CommandKind: {
        CommandKind.MESSAGE: _l("Show a message"),
        CommandKind.LOCK: _l("Lock the screen"),
        CommandKind.UNLOCK: _l("Unlock the screen"),
        CommandKind.RESTART_KIOSK: _l("Restart the kiosk browser"),
        CommandKind.UPDATE_PACKAGES: _l("Update packages"),
        CommandKind.RUN_SCRIPT: _l("Run an allowed script"),
        CommandKind.SCREENSHOT: _l("Take a screenshot"),
        CommandKind.REBOOT: _l("Reboot"),
        CommandKind.SHUTDOWN: _l("Shut down"),
        CommandKind.END_SESSION: _l("End a hotspot session"),
    },
    CommandState: {
        CommandState.QUEUED: _l("Queued"),
        CommandState.SENT: _l("Sent to the agent"),
        CommandState.DONE: _l("Done"),
        CommandState.FAILED: _l("Failed"),
        CommandState.EXPIRED: _l("Expired"),
    },
    ScheduleKind: {
        ScheduleKind.MAINTENANCE: _l("Maintenance window"),
        ScheduleKind.ROLLOUT: _l("Staged rollout"),
        ScheduleKind.SWEEP: _l("Offline detection"),
        ScheduleKind.PURGE: _l("Retention purge"),
        ScheduleKind.REPORT_SNAPSHOT: _l("Report snapshot"),
        ScheduleKind.REPORT_ROLLUP: _l("Daily report roll-up"),
    },
    Outcome: {
        Outcome.RUNNING: _l("Running"),
        Outcome.OK: _l("Succeeded"),
        Outcome.FAILED: _l("Failed"),
        Outcome.HALTED: _l("Halted"),
        Outcome.SKIPPED: _l("Skipped"),
    },
    SshAuth: {
        SshAuth.CONTROLLER: _l("The controller's key"),
        SshAuth.DEVICE: _l("A key of this device"),
    },
    JobState: {
        JobState.QUEUED: _l("Queued"),
        JobState.RUNNING: _l("Running"),
        JobState.FINISHED: _l("Finished"),
        JobState.CANCELLED: _l("Cancelled"),
        JobState.FAILED: _l("Failed"),
    },
    HostState: {
        HostState.QUEUED: _l("Queued"),
        HostState.RUNNING: _l("Running"),
        HostState.OK: _l("Succeeded"),
        HostState.FAILED: _l("Failed"),
        HostState.TIMEOUT: _l("Timed out"),
        HostState.CANCELLED: _l("Cancelled"),
    },
    Role: {
        Role.ADMIN: _l("Administrator"),
        Role.IT_ADMIN: _l("IT administrator"),
        Role.COORDINATOR: _l("Project coordinator"),
        Role.VIEWER: _l("Viewer"),
    },
}


FIELD_LABELS = {
    "name": _l("Name"),
    "type": _l("Type"),
    "teryt": _l("TERYT code"),
    "address": _l("Address"),
    "contact_person": _l("Contact person"),
    "phone": _l("Phone"),
    "email": _l("E-mail address"),
    "timezone": _l("Time zone"),
    "office_id": _l("Office"),
    "office_ids": _l("Offices"),
    "kind": _l("Kind"),
    "hostname": _l("Host name"),
    "mac": _l("MAC address"),
    "ip": _l("IP address"),
    "serial_number": _l("Serial number"),
    "location": _l("Location in the office"),
    "tags": _l("Tags"),
    "management": _l("Management"),
    "state": _l("State"),
    "role": _l("Role"),
    "locale": _l("Language"),
    "active": _l("Account active"),
    "password": _l("Password"),
    "current_password": _l("Current password"),
    "new_password": _l("New password"),
    "message": _l("Message"),
    "script": _l("Script name"),
    "ttl_minutes": _l("Drop if not run within (minutes)"),
    "ttl_hours": _l("Valid for (hours)"),
    "uses": _l("Number of devices"),
    "methods": _l("Login methods"),
    "session_minutes": _l("Session length (minutes)"),
    "daily_minutes": _l("Time per visitor per day (minutes)"),
    "idle_timeout_minutes": _l("Idle timeout (minutes)"),
    "session_megabytes": _l("Data per session (MB)"),
    "daily_megabytes": _l("Data per visitor per day (MB)"),
    "rate_down_kbit": _l("Download rate (kbit/s)"),
    "rate_up_kbit": _l("Upload rate (kbit/s)"),
    "devices_per_voucher": _l("Devices per voucher"),
    "opening_hours": _l("Opening hours"),
    "walled_garden_hosts": _l("Walled garden: host names"),
    "walled_garden_cidrs": _l("Walled garden: address ranges"),
    "terms_pl": _l("Terms of use (Polish)"),
    "terms_en": _l("Terms of use (English)"),
    "wifi4eu_network_identifier": _l("WiFi4EU network identifier"),
    "wifi4eu_snippet_url": _l("WiFi4EU snippet address"),
    "count": _l("Number of vouchers"),
    "minutes": _l("Time allowance (minutes)"),
    "megabytes": _l("Data allowance (MB)"),
    "valid_days": _l("Valid for (days)"),
    "max_devices": _l("Devices per voucher"),
    "multi_use": _l("Multi-use"),
    "note": _l("Note"),
    "code": _l("Voucher code"),
    "cron": _l("Crontab"),
    "interval_s": _l("Interval (seconds)"),
    "window_minutes": _l("Maintenance window (minutes)"),
    "command": _l("Command"),
    "device_kind": _l("Devices"),
    "canary_count": _l("Canary devices"),
    "canary_ids": _l("Canary device ids"),
    "wave_size": _l("Devices per wave"),
    "max_failure_percent": _l("Failure threshold (per cent)"),
    "wait_minutes": _l("Wait for results (minutes)"),
    "port": _l("Port"),
    "username": _l("User"),
    "auth": _l("Authentication"),
    "private_key": _l("Private key of this device"),
    "host_key": _l("Known host key"),
    "target": _l("Target"),
    "template": _l("Template"),
    "params": _l("Template parameters"),
    "concurrency": _l("Hosts at the same time"),
    "timeout_s": _l("Command timeout (seconds)"),
    "fingerprint": _l("Fingerprint"),
}


def field_label(name: str) -> str:
    """The translated label of a form field, as the error summary names it."""
    return str(FIELD_LABELS.get(name, name))


def label(value) -> str:
    """The translated name of an enum value (or the value itself)."""
    names = LABELS.get(type(value))
    return str(names[value]) if names and value in names else ("" if value is None else str(value))


_NOT_CHOSEN = {CommandKind.END_SESSION}  # queued by ending a hotspot session, not by hand


def choices(enum: type) -> list[tuple[str, str]]:
    """(value, translated name) pairs for a select box."""
    return [(m.value, str(text)) for m, text in LABELS[enum].items() if m not in _NOT_CHOSEN]


def _filesize(value) -> str:
    if not isinstance(value, int | float):
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{format_decimal(value, format='#,##0' if unit == 'B' else '#,##0.0')} {unit}"
        value /= 1024
    return str(value)


def _duration(seconds: int) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days} d {hours} h {rest // 60} min" if days else f"{hours} h {rest // 60} min"


def _dict_without(mapping: dict, *keys: str) -> dict:
    return {k: v for k, v in mapping.items() if k not in keys}


def _map_pairs(objects, value_attr: str, text_attr: str) -> list[tuple]:
    return [(getattr(o, value_attr), getattr(o, text_attr)) for o in objects]


def init_app(app: Flask) -> None:
    """Expose labels, the enums and small helpers to templates."""
    app.jinja_env.filters.update(
        label=label, dict_without=_dict_without, map_pairs=_map_pairs, filesize=_filesize,
        duration=_duration,
    )  # fmt: skip
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
    app.jinja_env.globals["field_label"] = field_label
    app.jinja_env.globals.update(
        choices=choices,
        OfficeType=OfficeType,
        DeviceKind=DeviceKind,
        DeviceState=DeviceState,
        Management=Management,
        Role=Role,
        CommandKind=CommandKind,
        CommandState=CommandState,
        ScheduleKind=ScheduleKind,
        SshAuth=SshAuth,
        HostState=HostState,
    )
