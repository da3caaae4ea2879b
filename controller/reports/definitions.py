"""What each indicator is called and how it is defined, in the reader's language."""

from flask_babel import lazy_gettext as _l

# name → (short label, unit label, definition)
DEFINITIONS = {
    "unique_users": (
        _l("Unique hotspot users"),
        _l("people"),
        _l(
            "Distinct visitor pseudonyms among the hotspot sessions that started in the period. "
            "Over several offices or several closed months the figures are added up, so a "
            "visitor seen in two offices or months counts in each. Pseudonyms change every "
            "reporting year."
        ),
    ),
    "sessions": (
        _l("Hotspot sessions"),
        _l("sessions"),
        _l("Hotspot sessions that started in the period (Europe/Warsaw time)."),
    ),
    "session_hours": (
        _l("Session hours"),
        _l("hours"),
        _l(
            "Time visitors were online on the hotspot within the period; a session across "
            "midnight or a month's end is split between the two."
        ),
    ),
    "data_gb": (
        _l("Data transferred"),
        _l("GB"),
        _l(
            "Downloaded and uploaded data of the sessions that started in the period, in "
            "gigabytes (10^9 bytes)."
        ),
    ),
    "peak_users": (
        _l("Peak concurrent users"),
        _l("users"),
        _l(
            "The most hotspot sessions open at the same moment in the period. Over several "
            "months the highest month; not added up over offices."
        ),
    ),
    "pc_sessions": (
        _l("Telecentre PC sessions"),
        _l("sessions"),
        _l(
            "Logins at telecentre PCs that began in the period, as counted by the PC agents "
            "(no user names are sent)."
        ),
    ),
    "pc_hours": (
        _l("Telecentre PC hours"),
        _l("hours"),
        _l("Time a user was logged in at telecentre PCs, counted per local day."),
    ),
    "infomat_sessions": (
        _l("Infomat sessions"),
        _l("sessions"),
        _l(
            "Interaction sessions at infomats: touches separated by at least a minute of "
            "inactivity start a new one."
        ),
    ),
    "availability": (
        _l("Availability"),
        _l("%"),
        _l(
            "Share of the period a device was online, from its online/offline changes. For an "
            "office: the time any of its hotspot gateways was online. Over offices the mean, "
            "over months the mean weighted by their length."
        ),
    ),
    "active_access_points": (
        _l("Active public access points"),
        _l("offices"),
        _l("Offices whose hotspot gateway was online at some time in the period."),
    ),
}


def label(name: str) -> str:
    """The indicator's short label."""
    return str(DEFINITIONS[name][0])
